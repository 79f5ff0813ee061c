"""A delivery's stream sequence and delivery count are read from the reply subject exactly as nats-py reads them."""

from __future__ import annotations

import pytest
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from noetl_worker.transport.delivery import _metadata

pytestmark = pytest.mark.unit

SUBJECTS = [
    "$JS.ACK.S.C.3.77.5.1733550000000000000.0",  # v1
    "$JS.ACK.dom.hash.S.C.2.88.6.1733550000000000000.4.tok",  # v2: domain and account hash
    "$JS.ACK.dom.hash.S.C.2.88.6.1733550000000000000.4",  # v2 without the random token
    "$JS.ACK._.hash.S.C.1.9.6.17.4.tok.extra",
    "$JS.ACK.S.C.x.77.5.1.0",  # deliveries not a number
    "$JS.ACK.S.C.3.77.5.ts.0",  # timestamp not a number
    "$JS.ACK.S.C.3.77.5.1.0.z",  # ten tokens: neither form
    "$JS.NAK.S.C.3.77.5.1.0",
    "foo",
    "",
    None,
]


def _nats_py(reply: str | None) -> tuple[int | None, int]:
    try:
        meta = Msg(None, subject="s", reply=reply or "", data=b"").metadata  # type: ignore[arg-type]
    except (ValueError, IndexError, NatsError):
        return None, 1
    return meta.sequence.stream, meta.num_delivered


@pytest.mark.parametrize("reply", SUBJECTS)
def test_the_subject_reads_as_nats_py_reads_it(reply: str | None) -> None:
    msg = Msg(None, subject="s", reply=reply or "", data=b"")  # type: ignore[arg-type]
    assert _metadata(msg) == _nats_py(reply)


def test_a_redelivery_is_counted() -> None:
    assert _metadata(Msg(None, subject="s", reply="$JS.ACK.S.C.4.12.9.1.0", data=b"")) == (12, 4)  # type: ignore[arg-type]
