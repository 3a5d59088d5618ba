"""One webhook POST against a real socket server that answers 200 and then never stops
sending its body: the attempt counts as delivered without reading the body."""

from __future__ import annotations

import asyncio
import ipaddress
import time

from common.webhooks.addresses import AddressPolicy
from pipeline.webhooks.http import post

LOOPBACK = AddressPolicy((ipaddress.ip_network("127.0.0.0/8"),))


async def test_an_endless_answer_is_not_read_beyond_a_few_kib() -> None:
    sent = 0

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal sent
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * 65536
        try:
            while sent < 1 << 30:  # a gibibyte, far more than the worker should ever hold
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                sent += len(chunk)
        except ConnectionError:
            pass  # the worker hung up on the rest: what is wanted
        finally:
            writer.close()

    server = await asyncio.start_server(endless, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        started = time.perf_counter()
        outcome = await post(f"http://127.0.0.1:{port}/hook", b"{}", {}, policy=LOOPBACK,
                             seconds=5.0)
        took = time.perf_counter() - started
        await asyncio.sleep(0.2)
    assert outcome.status_code == 200 and outcome.error is None
    assert took < 2.0, took
    # The server got no further than the socket buffers before the worker hung up.
    assert sent < 64 << 20, sent
