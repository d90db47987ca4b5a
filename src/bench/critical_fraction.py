"""`python -m bench.critical_fraction`, as documented: the command lives in `bench.cli.critical_fraction`."""

import sys

from bench.cli.critical_fraction import main

if __name__ == "__main__":
    sys.exit(main())
