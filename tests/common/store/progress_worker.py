"""Child process for the cross-process ``add_progress_once`` test.

``python -m tests.common.store.progress_worker URL DB JOB_ID KEY ...`` connects, prints
``ready``, waits for a line on stdin (so that every worker starts at once), counts each key
once and prints how many of its calls counted.
"""

from __future__ import annotations

import asyncio
import sys

from common.store import Store, add_progress_once


async def main(url: str, db_name: str, job_id: str, keys: list[int]) -> None:
    store = await Store.connect(url, db_name, retry_seconds=10)
    try:
        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)
        counted = 0
        for key in keys:
            counted += await add_progress_once(store.videos, job_id, key, "frames", 1)
        print(f"counted {counted}", flush=True)
    finally:
        await store.close()


if __name__ == "__main__":
    url, db_name, job_id, *keys = sys.argv[1:]
    asyncio.run(main(url, db_name, job_id, [int(k) for k in keys]))
