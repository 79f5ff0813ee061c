"""``nats`` against a real nats-server with JetStream (the session ``nats_server`` fixture)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
import uuid
from collections.abc import Iterator

import nats
import pytest
from nats.js.api import ConsumerConfig, StreamConfig
from noetl_worker.tools.base import ToolConfigError, ToolError, ToolStatus
from noetl_worker.tools.nats import NatsTool

from tests.support.nats import NatsServer, running_nats_server

from .conftest import MakeContext

pytestmark = pytest.mark.integration


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


async def test_publish_with_headers_reaches_a_subscriber(nats_server: NatsServer, ctx: MakeContext) -> None:
    subject = unique("noetl.test.publish")
    nc = await nats.connect(nats_server.url)
    sub = await nc.subscribe(subject)
    result = await NatsTool().run(
        {"url": nats_server.url, "operation": "publish", "subject": subject, "data": {"a": 1},
         "headers": {"X-Trace": "t-1"}}, ctx())  # fmt: skip
    message = await sub.next_msg(timeout=2)
    await nc.close()
    assert result.data == {"status": "success", "subject": subject}
    assert json.loads(message.data) == {"a": 1}
    assert message.headers == {"X-Trace": "t-1"}


async def test_request_gets_the_reply(nats_server: NatsServer, ctx: MakeContext) -> None:
    subject = unique("noetl.test.request")
    nc = await nats.connect(nats_server.url)

    async def reply(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(json.dumps({"echo": msg.data.decode()}).encode())

    await nc.subscribe(subject, cb=reply)
    result = await NatsTool().run({"url": nats_server.url, "operation": "request", "subject": subject, "data": "hi"},
                                  ctx())  # fmt: skip
    await nc.close()
    assert result.data["data"] == {"echo": "hi"}
    none = await NatsTool().run({"url": nats_server.url, "operation": "request", "subject": unique("nobody")}, ctx())
    assert none.status is ToolStatus.ERROR
    assert "no responders" in (none.error or "")


async def test_jetstream_publish_get_msg_stream_info_and_consume(nats_server: NatsServer, ctx: MakeContext) -> None:
    stream, consumer = unique("S"), unique("C")
    subject = f"{stream}.events"
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name=stream, subjects=[f"{stream}.>"]))
    await js.add_consumer(stream, ConsumerConfig(durable_name=consumer, ack_policy="explicit"))
    await nc.close()
    base = {"url": nats_server.url}
    tool = NatsTool()
    for n in range(3):
        published = await tool.run({**base, "operation": "js_publish", "subject": subject, "data": {"n": n},
                                    "headers": {"N": str(n)}}, ctx())  # fmt: skip
        assert published.data == {"status": "success", "stream": stream, "seq": n + 1, "duplicate": False}
    got = await tool.run({**base, "operation": "js_get_msg", "stream": stream, "seq": 2}, ctx())
    assert got.data["data"] == {"n": 1}
    last = await tool.run({**base, "operation": "js_get_msg", "stream": stream, "last": True}, ctx())
    assert last.data["seq"] == 3
    info = await tool.run({**base, "operation": "js_stream_info", "stream": stream}, ctx())
    assert info.data["state"]["messages"] == 3
    assert info.data["config"]["subjects"] == [f"{stream}.>"]

    first = await tool.run({**base, "operation": "js_consume", "stream": stream, "consumer": consumer, "batch": 2,
                            "timeout_ms": 500}, ctx())  # fmt: skip
    assert first.data["count"] == 2
    assert [m["data"] for m in first.data["messages"]] == [{"n": 0}, {"n": 1}]
    assert first.data["messages"][0]["headers"] == {"N": "0"}
    rest = await tool.run({**base, "operation": "js_consume", "stream": stream, "consumer": consumer,
                           "timeout_ms": 300}, ctx())  # fmt: skip
    assert [m["stream_seq"] for m in rest.data["messages"]] == [3]
    empty = await tool.run({**base, "operation": "js_consume", "stream": stream, "consumer": consumer,
                            "timeout_ms": 200}, ctx())  # fmt: skip
    assert empty.ok
    assert empty.data["count"] == 0


async def test_key_value_round_trip_with_bucket_creation(nats_server: NatsServer, ctx: MakeContext) -> None:
    bucket = unique("kv")
    base = {"url": nats_server.url, "bucket": bucket}
    tool = NatsTool()
    missing_bucket = await tool.run({**base, "operation": "kv_put", "key": "a", "value": 1}, ctx())
    assert missing_bucket.status is ToolStatus.ERROR
    put = await tool.run({**base, "operation": "kv_put", "key": "a", "value": {"x": 1}, "create_bucket": True}, ctx())
    assert put.data == {"status": "success", "bucket": bucket, "key": "a", "revision": 1}
    await tool.run({**base, "operation": "kv_put", "key": "b.c", "value": "text"}, ctx())
    got = await tool.run({**base, "operation": "kv_get", "key": "a"}, ctx())
    assert got.data == {"status": "success", "bucket": bucket, "key": "a", "value": {"x": 1}, "revision": 1}
    keys = await tool.run({**base, "operation": "kv_keys", "pattern": "b*"}, ctx())
    assert keys.data == {"status": "success", "bucket": bucket, "keys": ["b.c"], "count": 1}
    await tool.run({**base, "operation": "kv_delete", "key": "a"}, ctx())
    gone = await tool.run({**base, "operation": "kv_get", "key": "a"}, ctx())
    assert gone.data == {"status": "not_found", "bucket": bucket, "key": "a", "value": None}


async def test_object_store_put_and_get_binary(nats_server: NatsServer, ctx: MakeContext) -> None:
    bucket = unique("obj")
    blob = base64.b64encode(bytes(range(256))).decode()
    base = {"url": nats_server.url, "bucket": bucket, "name": "blob.bin", "encoding": "base64"}
    tool = NatsTool()
    put = await tool.run({**base, "operation": "object_put", "data": blob, "create_bucket": True}, ctx())
    assert put.data["size"] == 256
    got = await tool.run({**base, "operation": "object_get"}, ctx())
    assert got.data["data"] == blob
    info = await tool.run({**base, "operation": "object_info"}, ctx())
    assert info.data["size"] == 256
    listed = await tool.run({**base, "operation": "object_list"}, ctx())
    assert [o["name"] for o in listed.data["objects"]] == ["blob.bin"]
    await tool.run({**base, "operation": "object_delete"}, ctx())
    missing = await tool.run({**base, "operation": "object_get"}, ctx())
    assert missing.status is ToolStatus.ERROR


@pytest.fixture(scope="module")
def token_nats() -> Iterator[NatsServer]:
    with running_nats_server(extra_args=["--auth", "s3cret-token"]) as server:
        yield server


async def test_connection_from_a_keychain_secret_json(token_nats: NatsServer, ctx: MakeContext) -> None:
    secret = json.dumps({"url": token_nats.url, "token": "s3cret-token"})
    context = ctx(secrets={"NATS_CONN": secret})
    subject = unique("sub")
    result = await NatsTool().run(
        {"operation": "publish", "subject": subject, "auth": {"type": "nats", "credential": "NATS_CONN"}}, context
    )
    assert result.ok
    aliased_token = await NatsTool().run({"url": token_nats.url, "token": "NATS_TOKEN", "operation": "publish",
                                          "subject": subject}, ctx(secrets={"NATS_TOKEN": "s3cret-token"}))  # fmt: skip
    assert aliased_token.ok


async def test_a_refused_connection_names_the_server_but_not_the_secret(
    token_nats: NatsServer, ctx: MakeContext
) -> None:
    with pytest.raises(ToolError, match=r"^Execution failed: nats: cannot connect to") as err:
        await NatsTool().run({"url": token_nats.url, "token": "wrong-token-value", "operation": "publish",
                              "subject": "x"}, ctx())  # fmt: skip
    assert "wrong-token-value" not in str(err.value)


@pytest.mark.parametrize("listening", [False, True], ids=["refused", "silent"])
async def test_an_unreachable_server_fails_the_command_within_its_timeout(listening: bool, ctx: MakeContext) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        if listening:
            sock.listen(4)  # accepts, never sends INFO
        port = sock.getsockname()[1]
        started = time.monotonic()
        run = NatsTool().run({"url": f"nats://127.0.0.1:{port}", "operation": "publish", "subject": "x",
                              "timeout_seconds": 1.5}, ctx())  # fmt: skip
        with pytest.raises(ToolError, match=rf"^Execution failed: nats: cannot connect to 127\.0\.0\.1:{port}: "):
            await asyncio.wait_for(run, 10)  # the bound of the test, not of the tool
        assert time.monotonic() - started < 3.0


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({}, "Configuration error: nats.operation: required"),
        ({"operation": "teleport"}, "Configuration error: nats.operation: unknown operation 'teleport'; expected one"),
        ({"operation": "kv_get", "bucket": "b"}, "Configuration error: nats.key: required"),
        ({"operation": "js_get_msg", "stream": "s"}, "Configuration error: nats.seq: one of seq, subject or last"),
        (
            {"operation": "publish", "subject": "s", "data": "%%", "encoding": "base64"},
            "Configuration error: nats.data: encoding is base64 but the value is not valid base64",
        ),
        (
            {"operation": "publish", "subject": "s", "auth": {"credential": "NOPE"}},
            "Configuration error: nats.auth.credential: secret",
        ),
    ],
)
async def test_malformed_configs_name_the_key(
    nats_server: NatsServer, ctx: MakeContext, config: dict[str, object], message: str
) -> None:
    with pytest.raises(ToolConfigError) as err:
        await NatsTool().run({"url": nats_server.url, **config}, ctx())
    assert str(err.value).startswith(message)


async def test_the_tool_leaves_no_connection_behind(nats_server: NatsServer, ctx: MakeContext) -> None:
    before = len(asyncio.all_tasks())
    for _ in range(5):
        await NatsTool().run({"url": nats_server.url, "operation": "publish", "subject": unique("x")}, ctx())
    await asyncio.sleep(0.05)
    assert len(asyncio.all_tasks()) <= before
