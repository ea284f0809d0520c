"""`client-audit serve` as a real process, under the loads a hostile client makes.

The server runs with 256 open files at most. Hundreds of idle sockets, a head sent one byte
at a time, a burst of wrong tokens and a token in the query string must not stop it, blind
its logs or leak the token; with a certificate it serves HTTPS.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from projections.db.migrate import upgrade
from tests.integration import serve_support
from tests.integration.serve_support import Server, stop

pytestmark = pytest.mark.integration

TOKEN = "http-server-token-9f8e7d6c"


def start(tmp_path: Path, *extra: str, scheme: str = "http") -> Server:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    return serve_support.start(url, TOKEN, tmp_path, *extra, scheme=scheme)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = start(tmp_path, "--max-connections", "100", "--header-timeout", "2",
                    "--keep-alive-timeout", "1")
    yield running
    stop(running)


def test_idle_sockets_are_closed_and_health_answers_after_them(server: Server) -> None:
    host, port = server.base.removeprefix("http://").split(":")
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(300)]
    slow = socket.create_connection((host, int(port)), timeout=5)
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    try:
        cpu_before = server.cpu_seconds()
        time.sleep(4)
        assert server.cpu_seconds() - cpu_before < 1.0, "the server spun while sockets idled"
        response = httpx.get(f"{server.base}/healthz", timeout=5)
        assert response.status_code == 200
        closed = 0
        for connection in [*idle, slow]:
            connection.settimeout(3)
            try:
                closed += connection.recv(1) == b""
            except (TimeoutError, ConnectionResetError):
                closed += 1
        assert closed == len(idle) + 1
    finally:
        for connection in [*idle, slow]:
            connection.close()
    assert server.process.poll() is None


def test_a_burst_of_wrong_tokens_is_throttled_with_retry_after(server: Server) -> None:
    with httpx.Client(base_url=server.base, timeout=5) as client:
        statuses = [
            client.get("/v1/trail", headers={"Authorization": f"Bearer wrong-{n}"}).status_code
            for n in range(25)
        ]
        assert statuses[:20] == [401] * 20
        assert set(statuses[20:]) == {429}
        refused = client.get("/v1/trail", headers={"Authorization": f"Bearer {TOKEN}"})
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_a_token_in_the_query_string_is_refused_and_never_logged(server: Server) -> None:
    response = httpx.get(f"{server.base}/v1/trail",
                         params={"access_token": TOKEN, "credentialId": "cred-1"}, timeout=5)
    assert response.status_code == 401
    time.sleep(0.3)
    log = server.log_text()
    assert "/v1/trail?access_token=%5Bredacted%5D&credentialId=cred-1 401" in log
    assert TOKEN not in log


def _certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ))
    return cert_file, key_file


def test_serve_speaks_https_with_a_certificate(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    server = start(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key), scheme="https")
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        response = httpx.get(f"{server.base}/v1/trail", verify=trusted, timeout=5,
                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200
        with pytest.raises(httpx.HTTPError):
            httpx.get(server.base.replace("https", "http") + "/healthz", timeout=5)
    finally:
        stop(server)


def _serve_exit(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "client_audit.cli", "serve", *arguments],
        env={**os.environ, "CLIENT_AUDIT_API_TOKENS": f'["{TOKEN}"]'},
        capture_output=True, text=True, timeout=60, check=False,
    )


def test_serve_refuses_missing_or_mismatched_tls_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    cert, _key = _certificate(tmp_path / "a")
    _other_cert, other_key = _certificate(tmp_path / "b")
    missing = _serve_exit("--tls-cert", str(cert), "--tls-key", str(tmp_path / "none.key"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr
    mismatched = _serve_exit("--tls-cert", str(cert), "--tls-key", str(other_key))
    assert mismatched.returncode == 2
    assert "cannot use" in mismatched.stderr and "Traceback" not in mismatched.stderr
    alone = _serve_exit("--tls-cert", str(cert))
    assert alone.returncode == 2 and "--tls-cert and --tls-key go together" in alone.stderr
