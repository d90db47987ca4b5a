"""`python -m bench.reproductions`, as documented: the command lives in `bench.cli.reproductions`."""

import sys

from bench.cli.reproductions import main

if __name__ == "__main__":
    sys.exit(main())
