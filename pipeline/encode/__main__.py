"""``python -m pipeline.encode``: the encode stage as its own process."""

import sys

from pipeline.encode.stage import STAGE
from pipeline.process import run_stage_process

sys.exit(run_stage_process(STAGE))
