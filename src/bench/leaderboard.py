"""`python -m bench.leaderboard`, as documented: the command lives in `bench.cli.leaderboard`."""

import sys

from bench.cli.leaderboard import main

if __name__ == "__main__":
    sys.exit(main())
