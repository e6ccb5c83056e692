"""`python -m eval [OPTIONS]`: the same as `rag eval [OPTIONS]` (same options, exit codes and errors)."""

import sys

from cli.main import main

sys.exit(main(["eval", *sys.argv[1:]]))
