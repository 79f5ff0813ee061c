"""``nats``: NATS core, JetStream, key/value and object-store operations with nats-py.

Connection: ``url`` (default ``nats://127.0.0.1:4222``) with ``user``/``password`` or ``token`` (each may name a
keychain secret), or ``auth: {type: nats, credential: <name>}`` where the secret ``<name>`` is JSON
``{url|nats_url|servers, user|username?, password?, token?}`` — what an ``auth: "<alias>"`` of credential
type ``nats`` resolves to (:mod:`noetl_worker.tools.auth`), and how a ``NOETL_KEYCHAIN_ENV_VARS`` secret is
named directly. One connection per call; ``timeout_seconds`` (default 10, capped by the deadline) bounds
the connection (a refused or silent server fails the command within it, ``nats: cannot connect to
<host:port>``) and then each operation.

``operation`` (required) and its keys:

=================  ===================================  ==============================================
operation          keys                                 data
=================  ===================================  ==============================================
publish            subject, data?, headers?             {status, subject}
request            subject, data?, headers?             {status, subject, data, headers}
js_publish         subject, data?, headers?, stream?    {status, stream, seq, duplicate}
kv_get             bucket, key                          {status: success|not_found, bucket, key, value,
                                                         revision}
kv_put             bucket, key, value, create_bucket?   {status, bucket, key, revision}
kv_delete/kv_purge bucket, key                          {status, bucket, key}
kv_keys            bucket, pattern? (``*`` glob)        {status, bucket, keys, count}
object_put         bucket, name, data, create_bucket?   {status, bucket, name, size, digest}
object_get         bucket, name                         {status, bucket, name, data, size}
object_delete      bucket, name                         {status, bucket, name}
object_info        bucket, name                         {status, bucket, name, size, description, chunks,
                                                         digest, mtime}
object_list        bucket                               {status, bucket, objects, count}
js_get_msg         stream, seq | subject | last         {status, stream, subject, seq, data, headers}
js_stream_info     stream                               {status, stream, config, state}
js_consume         stream, consumer, batch?, timeout_ms?, {status, stream, consumer, count, messages,
                   ack?                                  acked}
=================  ===================================  ==============================================

Payloads: a string is sent as UTF-8 (``encoding: base64`` decodes it first), anything else as JSON. Reads
decode UTF-8 and then JSON when possible (``encoding: base64`` returns base64 text). ``js_consume`` takes at
most ``batch`` (default 100, 1..1000) messages within ``timeout_ms`` (default 1000, at most 5000) from an
existing durable pull consumer and acks them unless ``ack: false``. Missing buckets/streams/objects are
status error results; a connection failure raises ``Execution failed: …``.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ClassVar

import nats.errors
import nats.js.errors
from nats.aio.client import Client
from noetl_wire.natsconnect import NatsTarget, NatsUnreachableError, connect_once

from noetl_worker.jsontypes import JSONObject, JSONValue
from noetl_worker.tools._config import ConfigReader, render_config
from noetl_worker.tools.base import ToolContext, ToolError, ToolResult

__all__ = ["OPERATIONS", "NatsTool"]

DEFAULT_URL = "nats://127.0.0.1:4222"
DEFAULT_TIMEOUT_SECONDS = 10.0

# (connection, config, seconds the operation may take) -> data
Operation = Callable[[Client, ConfigReader, float], Awaitable[JSONObject]]


class _NotFound(Exception):
    """A bucket, key-less bucket, stream, object or message that does not exist (an error result)."""


# ---- payloads ------------------------------------------------------------------------------------------


def _payload(cfg: ConfigReader, key: str) -> bytes:
    value = cfg.raw(key)
    if value is None:
        return b""
    if isinstance(value, str):
        if cfg.text("encoding", "utf-8").lower() == "base64":
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise cfg.error(key, "encoding is base64 but the value is not valid base64") from None
        return value.encode()
    return json.dumps(value).encode()


def _decode(cfg: ConfigReader, raw: bytes | None) -> JSONValue:
    if raw is None:
        return None
    if cfg.text("encoding", "utf-8").lower() == "base64":
        return base64.b64encode(raw).decode("ascii")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(raw).decode("ascii")
    try:
        parsed: JSONValue = json.loads(text)
    except ValueError:
        return text
    return parsed


def _headers_in(cfg: ConfigReader) -> dict[str, str] | None:
    headers = cfg.str_map("headers")
    return headers or None


def _headers_out(headers: Mapping[str, Any] | None) -> JSONObject:
    out: JSONObject = {}
    for name, value in (headers or {}).items():
        out[name] = [str(v) for v in value] if isinstance(value, list) and len(value) > 1 else str(value)
    return out


# ---- operations ----------------------------------------------------------------------------------------


async def _publish(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    subject = cfg.text("subject")
    await nc.publish(subject, _payload(cfg, "data"), headers=_headers_in(cfg))
    await nc.flush(timeout=max(1, int(limit)))
    return {"status": "success", "subject": subject}


async def _request(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    subject = cfg.text("subject")
    try:
        reply = await nc.request(subject, _payload(cfg, "data"), timeout=limit, headers=_headers_in(cfg))
    except nats.errors.NoRespondersError:
        raise _NotFound(f"no responders on {subject!r}") from None
    return {"status": "success", "subject": subject, "data": _decode(cfg, reply.data),
            "headers": _headers_out(reply.headers)}  # fmt: skip


async def _js_publish(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    subject = cfg.text("subject")
    try:
        ack = await nc.jetstream().publish(
            subject, _payload(cfg, "data"), timeout=limit, stream=cfg.text("stream", None), headers=_headers_in(cfg)
        )
    except nats.js.errors.NoStreamResponseError:
        raise _NotFound(f"no stream captures subject {subject!r}") from None
    return {"status": "success", "stream": ack.stream, "seq": ack.seq, "duplicate": bool(ack.duplicate)}


async def _kv(nc: Client, cfg: ConfigReader, *, create: bool = False) -> Any:
    bucket = cfg.text("bucket")
    js = nc.jetstream()
    try:
        return await js.key_value(bucket)
    except nats.js.errors.BucketNotFoundError:
        if create and cfg.boolean("create_bucket", False):
            ttl = cfg.number("ttl", None, minimum=0)
            return await js.create_key_value(bucket=bucket, ttl=ttl or None)
        raise _NotFound(f"key/value bucket {bucket!r} does not exist") from None


async def _kv_get(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    kv, key = await _kv(nc, cfg), cfg.text("key")
    bucket = cfg.text("bucket")
    try:
        entry = await kv.get(key)
    except (nats.js.errors.KeyNotFoundError, nats.js.errors.KeyDeletedError):
        return {"status": "not_found", "bucket": bucket, "key": key, "value": None}
    return {"status": "success", "bucket": bucket, "key": key, "value": _decode(cfg, entry.value),
            "revision": entry.revision}  # fmt: skip


async def _kv_put(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    kv, key = await _kv(nc, cfg, create=True), cfg.text("key")
    revision = await kv.put(key, _payload(cfg, "value"))
    return {"status": "success", "bucket": cfg.text("bucket"), "key": key, "revision": revision}


async def _kv_delete(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    kv, key = await _kv(nc, cfg), cfg.text("key")
    await (kv.purge(key) if cfg.text("operation") == "kv_purge" else kv.delete(key))
    return {"status": "success", "bucket": cfg.text("bucket"), "key": key}


async def _kv_keys(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    kv = await _kv(nc, cfg)
    try:
        keys = sorted(await kv.keys())
    except nats.js.errors.NoKeysError:
        keys = []
    pattern = cfg.text("pattern", None)
    if pattern is not None:
        keys = [key for key in keys if fnmatch.fnmatchcase(key, pattern)]
    return {"status": "success", "bucket": cfg.text("bucket"), "keys": list(keys), "count": len(keys)}


async def _object_store(nc: Client, cfg: ConfigReader, *, create: bool = False) -> Any:
    bucket = cfg.text("bucket")
    js = nc.jetstream()
    try:
        return await js.object_store(bucket)
    except nats.js.errors.BucketNotFoundError:
        if create and cfg.boolean("create_bucket", False):
            return await js.create_object_store(bucket)
        raise _NotFound(f"object store {bucket!r} does not exist") from None


async def _object_put(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    store, name = await _object_store(nc, cfg, create=True), cfg.text("name")
    info = await store.put(name, _payload(cfg, "data"))
    return {"status": "success", "bucket": cfg.text("bucket"), "name": name, "size": info.size,
            "digest": info.digest}  # fmt: skip


async def _object_get(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    store, name = await _object_store(nc, cfg), cfg.text("name")
    try:
        found = await store.get(name)
    except (nats.js.errors.ObjectNotFoundError, nats.js.errors.ObjectDeletedError):
        raise _NotFound(f"object {name!r} not found in {cfg.text('bucket')!r}") from None
    data = found.data or b""
    return {"status": "success", "bucket": cfg.text("bucket"), "name": name, "data": _decode(cfg, data),
            "size": len(data)}  # fmt: skip


async def _object_delete(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    store, name = await _object_store(nc, cfg), cfg.text("name")
    try:
        await store.delete(name)
    except (nats.js.errors.ObjectNotFoundError, nats.js.errors.ObjectDeletedError):
        raise _NotFound(f"object {name!r} not found in {cfg.text('bucket')!r}") from None
    return {"status": "success", "bucket": cfg.text("bucket"), "name": name}


def _object_meta(info: Any) -> JSONObject:
    return {"name": info.name, "size": info.size, "description": info.description, "chunks": info.chunks,
            "digest": info.digest, "mtime": info.mtime}  # fmt: skip


async def _object_info(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    store, name = await _object_store(nc, cfg), cfg.text("name")
    try:
        info = await store.get_info(name)
    except (nats.js.errors.ObjectNotFoundError, nats.js.errors.ObjectDeletedError, nats.js.errors.NotFoundError):
        raise _NotFound(f"object {name!r} not found in {cfg.text('bucket')!r}") from None
    return {"status": "success", "bucket": cfg.text("bucket"), **_object_meta(info)}


async def _object_list(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    store = await _object_store(nc, cfg)
    try:
        infos = await store.list(ignore_deletes=True)
    except nats.js.errors.NotFoundError:
        infos = []  # an empty store has nothing to list
    objects: list[JSONValue] = [_object_meta(info) for info in infos]
    return {"status": "success", "bucket": cfg.text("bucket"), "objects": objects, "count": len(objects)}


async def _js_get_msg(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    stream = cfg.text("stream")
    seq = cfg.integer("seq", None, minimum=1)
    subject = cfg.text("subject", None)
    if seq is None and subject is None:
        if not cfg.boolean("last", False):
            raise cfg.error("seq", "one of seq, subject or last: true is required")
        subject = ">"
    try:
        if seq is not None:
            message = await nc.jetstream().get_msg(stream, seq=seq)
        else:
            message = await nc.jetstream().get_last_msg(stream, subject or ">")
    except nats.js.errors.NotFoundError:
        raise _NotFound(f"no such message in stream {stream!r}") from None
    return {"status": "success", "stream": stream, "subject": message.subject, "seq": message.seq,
            "data": _decode(cfg, message.data), "headers": _headers_out(message.headers)}  # fmt: skip


async def _js_stream_info(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    stream = cfg.text("stream")
    try:
        info = await nc.jetstream().stream_info(stream)
    except nats.js.errors.NotFoundError:
        raise _NotFound(f"stream {stream!r} does not exist") from None
    config, state = info.config, info.state
    return {
        "status": "success",
        "stream": stream,
        "config": {
            "name": config.name,
            "subjects": list(config.subjects or []),
            "max_msgs": config.max_msgs,
            "max_bytes": config.max_bytes,
        },
        "state": {
            "messages": state.messages,
            "bytes": state.bytes,
            "first_seq": state.first_seq,
            "last_seq": state.last_seq,
            "consumer_count": state.consumer_count,
        },
    }


async def _js_consume(nc: Client, cfg: ConfigReader, limit: float) -> JSONObject:
    stream, consumer = cfg.text("stream"), cfg.text("consumer")
    batch = min(max(cfg.integer("batch", 100), 1), 1000)
    wait = min(cfg.number("timeout_ms", 1000, minimum=1), 5000, limit * 1000) / 1000
    ack = cfg.boolean("ack", True)
    js = nc.jetstream()
    try:
        await js.consumer_info(stream, consumer)
    except nats.js.errors.NotFoundError:
        raise _NotFound(f"durable consumer {consumer!r} on stream {stream!r} does not exist") from None
    subscription = await js.pull_subscribe_bind(durable=consumer, stream=stream)
    messages: list[JSONValue] = []
    try:
        deadline = time.monotonic() + wait
        while len(messages) < batch and (left := deadline - time.monotonic()) > 0:
            try:
                fetched = await subscription.fetch(batch - len(messages), timeout=left)
            except (nats.errors.TimeoutError, TimeoutError):
                break
            for message in fetched:
                meta = message.metadata
                messages.append({
                    "subject": message.subject,
                    "stream_seq": meta.sequence.stream,
                    "consumer_seq": meta.sequence.consumer,
                    "delivered": meta.num_delivered,
                    "pending": meta.num_pending,
                    "data": _decode(cfg, message.data),
                    "headers": _headers_out(message.headers),
                })  # fmt: skip
                if ack:
                    await message.ack()
    finally:
        await subscription.unsubscribe()
    return {"status": "success", "stream": stream, "consumer": consumer, "count": len(messages),
            "messages": messages, "acked": ack}  # fmt: skip


OPERATIONS: dict[str, Operation] = {
    "publish": _publish,
    "request": _request,
    "js_publish": _js_publish,
    "kv_get": _kv_get,
    "kv_put": _kv_put,
    "kv_delete": _kv_delete,
    "kv_purge": _kv_delete,
    "kv_keys": _kv_keys,
    "object_put": _object_put,
    "object_get": _object_get,
    "object_delete": _object_delete,
    "object_info": _object_info,
    "object_list": _object_list,
    "js_get_msg": _js_get_msg,
    "js_stream_info": _js_stream_info,
    "js_consume": _js_consume,
}


# Checked before connecting, so a malformed config fails fast and the same way whatever the server holds.
REQUIRED: dict[str, tuple[str, ...]] = {
    "publish": ("subject",),
    "request": ("subject",),
    "js_publish": ("subject",),
    "kv_get": ("bucket", "key"),
    "kv_put": ("bucket", "key"),
    "kv_delete": ("bucket", "key"),
    "kv_purge": ("bucket", "key"),
    "kv_keys": ("bucket",),
    "object_put": ("bucket", "name"),
    "object_get": ("bucket", "name"),
    "object_delete": ("bucket", "name"),
    "object_info": ("bucket", "name"),
    "object_list": ("bucket",),
    "js_get_msg": ("stream",),
    "js_stream_info": ("stream",),
    "js_consume": ("stream", "consumer"),
}


# ---- connection ----------------------------------------------------------------------------------------


def _secret_or_literal(context: ToolContext, value: str | None) -> str | None:
    return context.secrets.get(value, value) if value else value


def _connection(cfg: ConfigReader, context: ToolContext) -> dict[str, Any]:
    options: dict[str, Any] = {}
    auth = cfg.raw("auth")
    if isinstance(auth, dict):
        auth_cfg = cfg.sub("auth")
        name = auth_cfg.text("credential")
        if name not in context.secrets:
            raise auth_cfg.error("credential", f"secret {name!r} is not in the command's keychain")
        try:
            secret = json.loads(context.secrets[name])
        except ValueError:
            secret = None
        if not isinstance(secret, dict):
            raise auth_cfg.error(
                "credential", f"secret {name!r} is not a JSON object {{url, user?, password?, token?}}"
            )
        url = next((secret[k] for k in ("url", "nats_url", "servers", "server") if secret.get(k)), None)
        if url is not None:
            options["servers"] = url
        user = secret.get("user") or secret.get("username")
        if user:
            options["user"], options["password"] = str(user), str(secret.get("password") or "")
        if secret.get("token"):
            options["token"] = str(secret["token"])
    elif auth is not None:
        raise cfg.error("auth", "expected {type: nats, credential: <secret name>} (string aliases are resolved first)")
    options.setdefault("servers", cfg.text("url", DEFAULT_URL))
    if cfg.has("user"):
        options["user"] = cfg.text("user")
        options["password"] = _secret_or_literal(context, cfg.text("password", "", allow_empty=True)) or ""
    if cfg.has("token"):
        options["token"] = _secret_or_literal(context, cfg.text("token"))
    if "token" in options:  # token wins over user/password, as in the reference
        options.pop("user", None)
        options.pop("password", None)
    return options


class NatsTool:
    kind: ClassVar[str] = "nats"

    async def run(self, config: Mapping[str, JSONValue], context: ToolContext) -> ToolResult:
        started = time.monotonic()
        cfg = render_config(self.kind, config, context)
        operation_name = cfg.text("operation")
        operation = OPERATIONS.get(operation_name)
        if operation is None:
            raise cfg.error(
                "operation", f"unknown operation {operation_name!r}; expected one of {', '.join(OPERATIONS)}"
            )
        for key in REQUIRED[operation_name]:
            cfg.text(key)
        timeout = min(cfg.number("timeout_seconds", DEFAULT_TIMEOUT_SECONDS, minimum=0.001), context.remaining())
        options = _connection(cfg, context)
        servers = options.pop("servers")
        if not isinstance(servers, str | list):
            servers = str(servers)
        target = NatsTarget.parse(servers, "noetl-worker:nats-tool", connect_timeout=min(timeout, 5.0), **options)
        try:
            nc = await connect_once(target, within=timeout)
        except NatsUnreachableError as exc:  # names host:port only, never userinfo from the URL
            raise ToolError(f"Execution failed: {exc}") from None
        try:
            data = await operation(nc, cfg, timeout)
        except _NotFound as exc:
            message = f"nats {operation_name}: {exc}"
            return ToolResult.failure(message, data={"status": "error", "error": message},
                                      duration_ms=_ms(started))  # fmt: skip
        except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
            raise ToolError(f"Execution failed: nats {operation_name}: {type(exc).__name__}: {exc}") from None
        finally:
            await nc.close()
        return ToolResult.success(data, duration_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
