"""``python -m pipeline.upscale.engine.weights``: fetch, import, convert or list weights."""

import sys

from pipeline.upscale.engine.weights.cli import main

sys.exit(main())
