"""``python -m pipeline.upscale``: a GPU (or CPU) upscale worker; run one per GPU."""

import sys

from pipeline.process import run_stage_process
from pipeline.upscale.stage import STAGE

sys.exit(run_stage_process(STAGE))
