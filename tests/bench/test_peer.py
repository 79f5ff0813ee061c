"""The HTTP peer of the ``http`` variants, over real HTTP: a timed wait, seeded bytes, clear refusals."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.bench.servers import serving

pytestmark = pytest.mark.integration


@pytest.fixture
def peer_url() -> Iterator[str]:
    with serving("bench.peer", "--seed", "7") as url:
        yield url


def test_sleep_answers_after_the_requested_wait(peer_url: str) -> None:
    started = time.monotonic()
    response = httpx.get(f"{peer_url}/sleep", params={"ms": 100})

    assert response.json() == {"slept_ms": 100}
    assert time.monotonic() - started >= 0.1


def test_blob_is_the_requested_size_and_the_same_bytes_every_time(peer_url: str) -> None:
    first = httpx.get(f"{peer_url}/blob", params={"bytes": 4096})
    second = httpx.get(f"{peer_url}/blob", params={"bytes": 4096})

    assert len(first.content) == 4096
    assert first.content == second.content
    assert first.content.isascii()


@pytest.mark.parametrize(
    ("path", "detail"),
    [("/sleep?ms=soon", "ms='soon' is not an integer"), ("/blob?bytes=-1", "bytes=-1 is outside")],
)
def test_a_bad_parameter_is_a_422_naming_it(peer_url: str, path: str, detail: str) -> None:
    response = httpx.get(f"{peer_url}{path}")

    assert response.status_code == 422
    assert detail in response.json()["detail"]
