"""Every command but the main one (python -m bench.<name> stays as a shim that calls bench.cli.<name>.main)."""
