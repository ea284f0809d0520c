"""Browser tests of the console: a real ``client-audit serve`` process over a seeded SQLite
file, driven by Playwright attached to Debian's Chromium (``/usr/bin/chromium``, or
``$CHROMIUM``); Playwright's own browser builds are never downloaded.

One server and one browser serve the whole run; each test gets a fresh browser context
(cookies, storage) and page. A page that logs a console error (a Content-Security-Policy
violation, a failed request, a script error) fails its test. Screenshots go to
``.local/artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    Response,
    sync_playwright,
)

from projections.chain import checkpoints
from projections.chain.records import VerificationRecord, record_verification
from projections.chain.signing import SigningKey
from projections.db.engine import create_engine_for
from projections.write.saved_searches import save_search
from schemas.models import LifecycleEvent
from tests.builders import build_created, build_used
from tests.integration import serve_support
from tests.integration.search_support import search_history
from tests.integration.test_queries import at
from tests.seeding import seed

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / ".local" / "artifacts" / "screenshots"
TOKEN = "browser-test-token-0123456789"
BUSY = "cred-busy"
BUSY_USES = 120
DOCUMENT_STATUS = re.compile(
    r"Failed to load resource: the server responded with a status of 4\d\d"
)
FORMULA_ACTOR = "=2+5"
"""An actor id that a spreadsheet would run as a formula."""


def chromium_path() -> str:
    found = (
        os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/lib/chromium/chromium"
    )
    if not Path(found).exists():
        pytest.fail(
            "Chromium is not installed: run scripts/bootstrap.sh (apt-get install chromium)",
            pytrace=False,
        )
    return found


def busy_history() -> list[LifecycleEvent]:
    """A credential used BUSY_USES times from four addresses, one use by a formula-like actor."""
    events: list[LifecycleEvent] = [build_created(
        credential_id=BUSY, client_id="client-busy", user_id="busy-owner", sequence=1,
        occurred_at=at(11), display_name="batch exporter", scoped_roles=("exporter",),
        allow_source_cidr=("192.0.2.0/24",), expires_time=None,
    )]
    addresses = ("192.0.2.10", "192.0.2.11", "198.51.100.77", "2001:db8:77::1")
    for index in range(BUSY_USES):
        denied = addresses[index % 4] not in ("192.0.2.10", "192.0.2.11")
        events.append(build_used(
            credential_id=BUSY, client_id="client-busy", user_id="busy-owner",
            sequence=index + 2, occurred_at=at(11) + timedelta(minutes=index + 1),
            source_ip=addresses[index % 4],
            actor_id=FORMULA_ACTOR if index == 0 else None,
            outcome="DENIED" if denied else "ALLOWED",
            denial_reason="OUTSIDE_ALLOWED_CIDRS" if denied else None,
        ))
    return events


SIGNING_KEY = SigningKey.generate()
"""The key of the signed checkpoint the console's database holds."""


@pytest.fixture(scope="session")
def console_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('console') / 'audit.db'}"
    events = [event for _name, event in search_history()] + busy_history()
    seed(url, events, topic="client-audit.credential-lifecycle.v1", partitions=2)
    engine = create_engine_for(url)
    try:
        saved_at = datetime(2026, 3, 3, tzinfo=UTC)
        save_search(engine, "denied-uses", "type:USED outcome:DENIED", saved_at)
        save_search(engine, "alice-or-bob", "user:alice user:bob", saved_at)
        record_verification(engine, VerificationRecord(saved_at, False, 2, 0, [
            {"check": "chain", "partition": 0, "result": "intact", "rows": 1, "lastOffset": 0},
            {"check": "chain", "partition": 1, "result": "intact", "rows": 1, "lastOffset": 0},
        ]))
        with engine.begin() as connection:
            made = checkpoints.signed(SIGNING_KEY, saved_at, checkpoints.current_heads(connection))
            checkpoints.store(connection, made, SIGNING_KEY)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def console_url(
    console_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    server = serve_support.start(console_database, TOKEN, tmp_path_factory.mktemp("serve"))
    try:
        yield server.base
    finally:
        serve_support.stop(server)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=chromium_path(), headless=True, args=["--disable-gpu", "--disable-quic"]
    )
    yield launched
    launched.close()


@pytest.fixture
def context(browser: Browser, console_url: str) -> Iterator[BrowserContext]:
    made = browser.new_context(base_url=console_url, viewport={"width": 1280, "height": 900},
                               accept_downloads=True)
    made.grant_permissions(["clipboard-read", "clipboard-write"], origin=console_url)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    opened = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # A page answered 4xx on purpose (a refused token, a bad query) is logged as a failed
        # load; any other error (a CSP violation, a script error) is a failure.
        if message.type == "error" and not DOCUMENT_STATUS.match(message.text):
            errors.append(message.text)

    def on_response(response: Response) -> None:
        if response.request.resource_type != "document" and response.status >= 400:
            errors.append(f"{response.status} for {response.url}")

    opened.on("console", on_console)
    opened.on("response", on_response)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.on("dialog", lambda dialog: errors.append(f"dialog opened: {dialog.message}"))
    yield opened
    assert errors == [], errors


def sign_in(page: Page, token: str = TOKEN) -> None:
    """Sign in through the form from wherever the page is (it returns there)."""
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def signed_in(page: Page) -> Page:
    page.goto("/console/search")
    sign_in(page)
    page.wait_for_url("**/console/search")
    return page


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path
