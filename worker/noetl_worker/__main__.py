"""``python -m noetl_worker`` is ``noetl-worker``."""

import sys

from noetl_worker.cli import main

sys.exit(main())
