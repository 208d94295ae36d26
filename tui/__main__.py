"""`python -m nnstudio.tui`: the same as the `nnstudio` command."""

import sys

from .program import run

sys.exit(run())
