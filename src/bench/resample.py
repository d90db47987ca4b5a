"""`python -m bench.resample`, as documented: the command lives in `bench.cli.resample`."""

import sys

from bench.cli.resample import main

if __name__ == "__main__":
    sys.exit(main())
