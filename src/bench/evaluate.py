"""`python -m bench.evaluate`, as documented: the command lives in `bench.cli.evaluate`."""

import sys

from bench.cli.evaluate import main

if __name__ == "__main__":
    sys.exit(main())
