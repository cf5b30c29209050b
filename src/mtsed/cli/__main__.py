"""``python -m mtsed.cli``: the ``mtsed`` command."""

import sys

from mtsed.cli.main import main

sys.exit(main())
