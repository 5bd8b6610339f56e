"""`python -m earth3d.cli`: the same as the `earth3d` command."""

import sys

from . import main

sys.exit(main())
