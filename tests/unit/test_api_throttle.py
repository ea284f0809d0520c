"""Failed authentication is throttled per client address: 429 with Retry-After, then again
allowed once the window has passed. Runs the app in-process on an empty SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from client_audit.api import create_app
from client_audit.api.throttle import FailedAuthThrottle, address_block
from projections.db.engine import create_engine_for
from projections.db.migrate import upgrade

TOKEN = "right-token-7f3a"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    engine = create_engine_for(url)
    throttle = FailedAuthThrottle(limit=5, window_s=60, clock=clock)
    with TestClient(create_app(engine, [TOKEN], throttle=throttle)) as client:
        yield client
    engine.dispose()


def get(client: TestClient, token: str | None) -> int:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    status: int = client.get("/v1/trail", headers=headers).status_code
    return status


def test_too_many_refused_tokens_get_429_with_retry_after_then_pass_again(
    client: TestClient, clock: Clock
) -> None:
    assert [get(client, f"guess-{n}") for n in range(5)] == [401] * 5
    refused = client.get("/v1/trail", headers={"Authorization": f"Bearer {TOKEN}"})
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.json()["error"] == "too_many_requests"
    clock.now += 30
    assert client.get("/v1/trail", headers={"Authorization": "Bearer x"}).headers[
        "Retry-After"] == "30"
    clock.now += 30
    assert get(client, TOKEN) == 200


def test_missing_tokens_are_not_counted_as_guesses(client: TestClient) -> None:
    assert [get(client, None) for _ in range(20)] == [401] * 20
    assert get(client, TOKEN) == 200


def test_open_routes_stay_open_to_a_throttled_address(client: TestClient) -> None:
    for n in range(6):
        get(client, f"guess-{n}")
    assert client.get("/healthz").status_code == 200


def test_addresses_are_counted_by_host_ipv6_by_its_64() -> None:
    assert address_block("192.0.2.7") == "192.0.2.7"
    assert address_block("2001:db8:1:2:aaaa::1") == address_block("2001:db8:1:2:bbbb::9")
    assert address_block("2001:db8:1:2::1") != address_block("2001:db8:1:3::1")
    assert address_block("::ffff:192.0.2.7") == "192.0.2.7"


def test_memory_is_bounded_oldest_addresses_forgotten_first() -> None:
    clock = Clock()
    throttle = FailedAuthThrottle(limit=2, window_s=60, capacity=3, clock=clock)
    for address in ("10.0.0.1", "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"):
        throttle.failed(address)
    assert throttle.retry_after("10.0.0.1") is None
    throttle.failed("10.0.0.4")
    assert throttle.retry_after("10.0.0.4") == 60
