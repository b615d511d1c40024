"""``python -m prototxt_tools`` is the ``prototxt-tools`` command."""

import sys

from .cli import main

sys.exit(main())
