"""``python -m pipeline.decode``: the decode stage as its own process."""

import sys

from pipeline.decode.stage import STAGE
from pipeline.process import run_stage_process

sys.exit(run_stage_process(STAGE))
