"""The generation loop (python -m bench): prepare, one generation's steps, training, scoring, health,
contamination and curation."""
