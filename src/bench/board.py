"""`python -m bench.board`, as documented: the command lives in `bench.cli.board`."""

import sys

from bench.cli.board import main

if __name__ == "__main__":
    sys.exit(main())
