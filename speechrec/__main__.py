"""``python -m speechrec``: see speechrec.cli."""

import sys

from speechrec.cli import main

sys.exit(main())
