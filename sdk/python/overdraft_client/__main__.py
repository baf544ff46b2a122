"""`python -m overdraft_client activate|status|release` (overdraft_client.cli)."""

import sys

from overdraft_client.cli import main

sys.exit(main())
