"""`python -m bench.audit`, as documented: the command lives in `bench.cli.audit`."""

import sys

from bench.cli.audit import main

if __name__ == "__main__":
    sys.exit(main())
