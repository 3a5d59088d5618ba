"""The durable bus (queues in the embedded database) beside the memory bus, in one run.

Two figures per adapter, measured in interleaved rounds (memory, durable, memory, ...):

* **throughput**: ``--messages`` messages published one after another (each confirmed, as
  the stages publish) while one consumer with a handler that does nothing takes them; messages
  per second from the first publish to the last handler call;
* **latency per hop**: one message at a time, from the ``publish`` call to its handler's
  start (what one stage-to-stage hop adds), ``--hops`` times; the median of each round.

The durable bus runs on a SecantusDB server this bench starts (journaled writes, as the
embedded run); the memory bus needs nothing. Both buses run in this one process.

Reproduce:  .venv/bin/python bench/bus.py [--rounds 5] [--messages 300] [--hops 100]
The last line is ``bus memory_msgs_s=... durable_msgs_s=... memory_hop_ms=... durable_hop_ms=...``
(medians over rounds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._results import start  # noqa: E402
from common.bus import Bus, DatabaseBus, Delivery, MemoryBus  # noqa: E402
from common.store import SecantusServer, Store  # noqa: E402


async def throughput(bus: Bus, count: int) -> float:
    done = asyncio.Event()
    seen = 0

    async def handler(delivery: Delivery) -> None:
        nonlocal seen
        seen += 1
        if seen == count:
            done.set()

    queue = f"tp-{uuid.uuid4().hex[:8]}"
    await bus.consume(queue, handler)
    started = time.perf_counter()
    for n in range(count):
        await bus.publish(queue, b"x" * 300, message_id=f"m{n}")
    await asyncio.wait_for(done.wait(), 300)
    return count / (time.perf_counter() - started)


async def hop_ms(bus: Bus, count: int) -> float:
    arrived: asyncio.Queue[float] = asyncio.Queue()

    async def handler(delivery: Delivery) -> None:
        arrived.put_nowait(time.perf_counter())

    queue = f"hop-{uuid.uuid4().hex[:8]}"
    await bus.consume(queue, handler)
    await asyncio.sleep(0.2)  # the consumer is idle, waiting, as a stage between messages
    samples = []
    for n in range(count):
        sent = time.perf_counter()
        await bus.publish(queue, b"x" * 300, message_id=f"h{n}")
        samples.append((await asyncio.wait_for(arrived.get(), 30) - sent) * 1000)
    return statistics.median(samples)


async def one_round(make: dict[str, object], args: argparse.Namespace,
                    kind: str) -> tuple[float, float]:
    bus: Bus = make[kind]()  # type: ignore[operator]
    await bus.start()
    try:
        return await throughput(bus, args.messages), await hop_ms(bus, args.hops)
    finally:
        await bus.close()


async def main(args: argparse.Namespace) -> None:
    run = start("bus", args)
    with tempfile.TemporaryDirectory(prefix="bench-bus-") as tmp:
        server = SecantusServer(Path(tmp) / "db")
        await server.start()
        store = await Store.connect(server.url, "bench", retry_seconds=10, journal=True)
        make = {"memory": lambda: MemoryBus(namespace="bench"),
                "durable": lambda: DatabaseBus(store.db, namespace="bench")}
        samples: dict[str, dict[str, list[float]]] = {
            kind: {"msgs_s": [], "hop_ms": []} for kind in make}
        try:
            for n in range(args.rounds):
                for kind in make:
                    rate, hop = await one_round(make, args, kind)
                    samples[kind]["msgs_s"].append(round(rate, 1))
                    samples[kind]["hop_ms"].append(round(hop, 3))
                    print(f"round {n + 1} {kind}: {rate:.0f} msg/s, hop {hop:.2f} ms",
                          flush=True)
        finally:
            await store.close()
            await server.stop()
    for kind, figures in samples.items():
        for name, values in figures.items():
            print(f"{kind} {name}: median {statistics.median(values):g} "
                  f"(min {min(values):g}, max {max(values):g}, n={len(values)})")
    med = {f"{k}_{n}": statistics.median(v) for k, f in samples.items() for n, v in f.items()}
    summary = (f"bus memory_msgs_s={med['memory_msgs_s']:.0f} "
               f"durable_msgs_s={med['durable_msgs_s']:.0f} "
               f"memory_hop_ms={med['memory_hop_ms']:.2f} "
               f"durable_hop_ms={med['durable_hop_ms']:.2f}")
    run.finish(samples, summary)
    print(summary)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--hops", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
