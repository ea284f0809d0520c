"""The command the demo prints at its end serves the console on the demo's data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from client_audit.cli.demo import console_command
from devservices.ports import free_port
from tests.integration.search_support import search_history
from tests.seeding import seed

pytestmark = pytest.mark.integration


def test_the_printed_command_serves_the_console(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    seed(url, [event for _name, event in search_history()], topic="t.demo")
    token = "demo-token-with-'quote\"s"
    port = free_port()
    command = console_command(url, token, port)
    assert command.startswith("CLIENT_AUDIT_API_TOKENS=")
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(["sh", "-c", command], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
        with httpx.Client(base_url=base) as client:
            form = client.get("/console/sign-in")
            found = re.search(r'name="form_token" value="([^"]+)"', form.text)
            assert found is not None
            signed = client.post("/console/sign-in", data={
                "token": token, "form_token": found.group(1), "next": "/console/search",
            }, headers={"Sec-Fetch-Site": "same-origin"})
            assert signed.status_code == 303
            page = client.get("/console/search?q=type%3ADELETED")
            assert page.status_code == 200 and "cred-b" in page.text
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
        log.close()
