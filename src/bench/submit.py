"""`python -m bench.submit`, as documented: the command lives in `bench.cli.submit`."""

import sys

from bench.cli.submit import main

if __name__ == "__main__":
    sys.exit(main())
