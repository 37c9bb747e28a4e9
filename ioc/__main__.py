"""``python -m ioc``: the same as the ``ioc`` console script."""

import sys

from ioc.cli import main

sys.exit(main())
