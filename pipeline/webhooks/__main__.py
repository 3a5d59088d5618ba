"""``python -m pipeline.webhooks``: the webhooks stage as its own process."""

import sys

from pipeline.process import run_stage_process
from pipeline.webhooks.stage import STAGE

sys.exit(run_stage_process(STAGE))
