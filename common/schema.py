"""Publish the message contracts for integrators who talk to the broker directly.

``python -m common.schema`` writes ``docs/messages.schema.json`` (JSON Schema of every message)
and ``docs/asyncapi.json`` (AsyncAPI 3.0: the exchanges, queues, dead-letter queues and the
payload each queue carries), both built from the code that runs: the contract models and the
bus topology. ``--check`` exits 1 when the committed files differ from what the code says.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from common.bus.topology import QueueSpec, Topology, delay_queue, topology
from common.contracts import MESSAGE_TYPES, AnyMessage
from common.settings import Settings
from common.version import VERSION

DOCS = Path(__file__).resolve().parents[1] / "docs"
SCHEMA_FILE = "messages.schema.json"
ASYNCAPI_FILE = "asyncapi.json"
_REF_PREFIX = "#/components/schemas/"


def json_schema() -> dict[str, Any]:
    schema = TypeAdapter(AnyMessage).json_schema(ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Image Enhancer pipeline messages",
        **schema,
    }


def _channel(queue: QueueSpec, topo: Topology) -> dict[str, Any]:
    carried = [m for m in MESSAGE_TYPES if m.queue == queue.logical]
    if queue.delay_ms is not None:
        target = queue.arguments["x-dead-letter-routing-key"]
        description = (
            f"Delay queue of `{queue.logical}` (no consumers): a message published here waits "
            f"{queue.delay_ms} ms, then expires into `{target}`."
            " The webhooks stage schedules its retries this way (WEBHOOK_RETRY_DELAYS)."
        )
    elif queue.dead_letter_queue is None:
        description = (
            f"Dead letters of `{queue.logical}`: messages that failed {topo.delivery_limit} "
            "deliveries or were rejected as permanent failures. They stay here for inspection."
        )
    else:
        description = (
            f"Work queue of the `{queue.logical}` stage. Publish to exchange `{queue.exchange}` "
            f"with routing key `{queue.routing_key}`, persistent, with a `message_id`."
        )
    return {
        "address": queue.name,
        "description": description,
        "messages": {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in carried},
        "bindings": {
            "amqp": {
                "is": "routingKey",
                "exchange": {"name": queue.exchange, "type": "direct", "durable": True},
                "queue": {
                    "name": queue.name,
                    "durable": queue.durable,
                    "exclusive": False,
                    "autoDelete": False,
                    "x-arguments": dict(queue.arguments),
                },
                "bindingVersion": "0.3.0",
            }
        },
    }


def asyncapi() -> dict[str, Any]:
    # Documented with the defaults, not this machine's .env, so the file is reproducible.
    fields = Settings.model_fields
    topo = topology(fields["bus_namespace"].default, fields["bus_delivery_limit"].default)
    delays = sorted(set(fields["webhook_retry_delays"].default))
    waiting = [delay_queue(topo.namespace, "webhooks", seconds) for seconds in delays]
    channels = {q.name.replace(".", "_"): _channel(q, topo) for q in (*topo.queues, *waiting)}
    operations: dict[str, Any] = {}
    for q in topo.queues:
        if q.dead_letter_queue is None:  # dead-letter queues; delay queues are not listed here
            continue
        key = q.name.replace(".", "_")
        operations[f"publish_{q.logical}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"Submit work to the {q.logical} stage.",
        }
        operations[f"consume_{q.logical}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"A {q.logical} worker: ack after storing effects; handlers are idempotent.",
        }
    schemas = TypeAdapter(AnyMessage).json_schema(ref_template=_REF_PREFIX + "{model}")["$defs"]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Image Enhancer pipeline",
            "version": VERSION,
            "description": (
                "Messages carry ids and GridFS references, never pixels. Delivery is at least "
                f"once; after {topo.delivery_limit} deliveries a message is dead-lettered. "
                f"Names shown use the default namespace `{topo.namespace}` (BUS_NAMESPACE)."
            ),
        },
        "servers": {
            "rabbitmq": {"host": "rabbitmq:5672", "protocol": "amqp", "protocolVersion": "0.9.1"}
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": {
                m.__name__: {
                    "name": m.model_fields["type"].default,
                    "contentType": "application/json",
                    "payload": {"$ref": _REF_PREFIX + m.__name__},
                }
                for m in MESSAGE_TYPES
            },
            "schemas": schemas,
        },
    }


def render() -> dict[str, str]:
    return {
        SCHEMA_FILE: json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n",
        ASYNCAPI_FILE: json.dumps(asyncapi(), indent=2, ensure_ascii=False) + "\n",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print("stale: " + ", ".join(stale) + " (run python -m common.schema)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
