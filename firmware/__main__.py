"""``python -m firmware --board boards/<name>.json --config <file>.json`` starts the phone."""
# cpython-only: the command-line entry point

import sys

from firmware.runtime.startup import main

sys.exit(main())
