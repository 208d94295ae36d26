"""`python -m nnstudio.tui`: the same as the `nnstudio` command."""

import sys

from .main import main

sys.exit(main())
