"""A request that has not started its response in time is answered 503; one that has, is
not cut."""

from __future__ import annotations

import asyncio
import time

from fastapi import FastAPI
from fastapi.responses import StreamingResponse
from fastapi.testclient import TestClient

from client_audit.api.deadline import RequestDeadline


def app_with_deadline(seconds: float) -> FastAPI:
    app = FastAPI()

    @app.get("/slow")
    async def slow() -> dict[str, str]:
        await asyncio.sleep(5)
        return {"never": "seen"}

    @app.get("/fast")
    async def fast() -> dict[str, str]:
        return {"ok": "yes"}

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def parts() -> object:
            for index in range(3):
                await asyncio.sleep(0.3)
                yield f"part {index}\n".encode()

        return StreamingResponse(parts(), media_type="text/plain")  # type: ignore[arg-type]

    app.add_middleware(RequestDeadline, seconds=seconds)
    return app


def test_a_slow_request_is_answered_503_within_the_deadline() -> None:
    with TestClient(app_with_deadline(0.5)) as client:
        started = time.monotonic()
        response = client.get("/slow")
        elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json()["error"] == "timeout"
    assert "took longer than 0.5 s" in response.json()["message"]
    assert elapsed < 2


def test_fast_requests_and_started_streams_are_untouched() -> None:
    with TestClient(app_with_deadline(0.5)) as client:
        assert client.get("/fast").json() == {"ok": "yes"}
        streamed = client.get("/stream")
    assert streamed.status_code == 200
    assert streamed.text == "part 0\npart 1\npart 2\n"
