"""`python -m gradcheck`: the `lucid-gradcheck` command, for an environment whose scripts are not
on the PATH."""
import sys

from gradcheck.cli import main

if __name__ == "__main__":
    sys.exit(main())
