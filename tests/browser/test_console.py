"""The investigator console in a real browser: sign-in and sign-out, a stored token's
scopes and its revocation, searches with qualifiers, negation and OR, paging, the
credential timeline and its as-of control, the role timeline, the anomaly chart, exports,
copying, keyboard use, hostile text."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from projections.access.tokens import issue_token, revoke_token
from projections.db.engine import create_engine_for, write_transaction
from projections.model.access import Scope
from tests.browser.conftest import (
    BUSY,
    BUSY_USES,
    FORMULA_ACTOR,
    SIGNING_KEY,
    TOKEN,
    screenshot,
    sign_in,
)
from tests.integration.search_support import HOSTILE_NAME

pytestmark = pytest.mark.browser


def result_credentials(page: Page) -> list[str]:
    return page.locator("table.results tbody tr td:nth-child(3)").all_inner_texts()


def result_positions(page: Page) -> list[int]:
    return [int(text) for text in page.locator("table.results tbody td.number").all_inner_texts()]


def test_without_a_session_the_console_asks_to_sign_in_and_returns(
    page: Page, context: BrowserContext
) -> None:
    page.goto("/console/search?q=type%3ADELETED")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next="))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "sign-in")
    sign_in(page, "not-the-token")
    expect(page.get_by_role("alert")).to_have_text("That token is not one this service accepts.")
    sign_in(page)
    expect(page).to_have_url(re.compile(r"/console/search\?q=type%3ADELETED$"))
    expect(page.get_by_label("Search query")).to_have_value("type:DELETED")
    cookies = {cookie["name"]: cookie for cookie in context.cookies()}
    session = cookies["client_audit_session"]
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert session["path"] == "/console" and TOKEN not in session["value"]
    assert "client_audit_session" not in page.evaluate("document.cookie")

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/sign-in\?signed_out=1$"))
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    assert "client_audit_session" not in {cookie["name"] for cookie in context.cookies()}
    page.goto("/console/anomalies")
    expect(page).to_have_url(re.compile(r"/console/sign-in\?next=%2Fconsole%2Fanomalies$"))


def test_a_stored_token_opens_the_pages_of_its_scopes_until_it_is_revoked(
    page: Page, console_database: str
) -> None:
    engine = create_engine_for(console_database)
    try:
        with write_transaction(engine) as connection:
            issued = issue_token(connection, "browser-analyst", {Scope.READ_AUDIT_LOG},
                                 datetime.now(UTC))
        page.goto("/console/search")
        sign_in(page, issued.token)
        page.wait_for_url("**/console/search")
        navigation = page.get_by_role("navigation", name="Console pages")
        expect(navigation.get_by_role("link", name="Search")).to_be_visible()
        expect(navigation.get_by_role("link", name="Integrity")).to_have_count(0)
        page.goto("/console/integrity")
        expect(page.get_by_role("heading", level=1)).to_have_text(
            "this route needs the scope read:integrity; the token 'browser-analyst' holds "
            "read:audit-log"
        )
        screenshot(page, "missing-scope")
        with write_transaction(engine) as connection:
            revoke_token(connection, "browser-analyst", datetime.now(UTC))
        page.goto("/console/roles")
        expect(page).to_have_url(
            re.compile(r"/console/sign-in\?next=%2Fconsole%2Froles&ended=revoked$")
        )
        expect(page.get_by_role("status")).to_have_text(
            "Your session ended: its token was revoked. Sign in with another token."
        )
        sign_in(page, issued.token)
        expect(page.get_by_role("alert")).to_have_text("The token 'browser-analyst' was revoked.")
    finally:
        engine.dispose()


def test_a_search_with_qualifiers_negation_and_or(signed_in: Page) -> None:
    page = signed_in
    box = page.get_by_label("Search query")
    box.fill("user:alice user:bob type:USED -outcome:ALLOWED")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"q=user%3Aalice\+user%3Abob\+type%3AUSED\+-outcome"))
    assert result_credentials(page) == ["cred-b", "cred-c", "cred-a"]
    expect(page.locator("table.results")).to_contain_text("USE_AFTER_DELETION")
    expect(page.locator("#copy-cli")).to_have_text(
        "client-audit search 'user:alice user:bob type:USED -outcome:ALLOWED'"
    )
    expect(page.locator("#copy-curl")).to_contain_text(
        "/v1/search?q=user%3Aalice+user%3Abob+type%3AUSED+-outcome%3AALLOWED"
    )
    screenshot(page, "search")

    page.reload()
    assert result_credentials(page) == ["cred-b", "cred-c", "cred-a"]
    page.get_by_role("link", name="denied-uses").click()
    expect(page.get_by_label("Search query")).to_have_value("type:USED outcome:DENIED")
    assert result_credentials(page) == [BUSY] * 50
    page.get_by_role("link", name="Next page").click()
    assert result_credentials(page) == [BUSY] * (BUSY_USES // 2 - 50) + [
        "cred-b", "cred-c", "cred-a",
    ]


def test_a_bad_query_names_each_term_and_its_column(signed_in: Page) -> None:
    page = signed_in
    page.get_by_label("Search query").fill("tpye:USED network:10.0.0.1/8")
    page.get_by_role("button", name="Search").click()
    problems = page.locator(".problems li")
    expect(problems).to_have_count(2)
    expect(problems.nth(0)).to_contain_text("column 1, 'tpye:USED': 'tpye' is not a qualifier")
    expect(problems.nth(1)).to_contain_text("column 11, 'network:10.0.0.1/8'")
    expect(problems.nth(1)).to_contain_text("did you mean 10.0.0.0/8?")


def test_keyset_pages_walk_every_result_once(signed_in: Page) -> None:
    page = signed_in
    page.goto(f"/console/search?q=credential%3A{BUSY}&limit=50")
    seen: list[int] = []
    for expected_rows in (50, 50, 1 + BUSY_USES - 100):
        positions = result_positions(page)
        assert len(positions) == expected_rows
        assert positions == sorted(positions, reverse=True)
        seen += positions
        following = page.get_by_role("link", name="Next page")
        if expected_rows == 50:
            following.click()
            expect(page.get_by_role("heading", name="Results (continued)")).to_be_visible()
        else:
            expect(following).to_have_count(0)
    assert len(seen) == len(set(seen)) == 1 + BUSY_USES
    page.get_by_role("link", name="First page").click()
    assert result_positions(page)[0] == max(seen)


def test_the_credential_timeline_and_its_as_of_control(signed_in: Page) -> None:
    page = signed_in
    page.get_by_label("Search query").fill("type:ROLES_SCOPED")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="cred-a").first.click()
    expect(page.get_by_role("heading", name="Credential cred-a")).to_be_visible()
    events = page.locator("ol.timeline > li")
    expect(events).to_have_count(6)
    scoped = events.filter(has_text="ROLES_SCOPED")
    expect(scoped.locator(".added")).to_have_text(["+admin"])
    expect(scoped.locator(".removed")).to_have_text(["\N{MINUS SIGN}storage.reader"])
    expect(events.filter(has_text="UPDATED").locator(".added")).to_have_text(["+192.168.10.0/24"])
    addresses = page.locator("section[aria-labelledby=addresses-title] tbody th")
    expect(addresses).to_have_text(["10.20.1.7", "198.51.100.9", "2001:db8:1::7"])
    screenshot(page, "credential")

    page.get_by_label("Instant (ISO-8601 with offset)").fill("2026-03-03T13:30:00Z")
    page.get_by_role("button", name="Show").click()
    then = page.locator("#as-of-state")
    expect(then.get_by_role("heading")).to_have_text("At 2026-03-03T13:30:00Z")
    expect(then.locator("a.tag")).to_have_text(["storage.reader", "viewer"])
    now = page.locator("section[aria-labelledby=now-title] a.tag")
    expect(now).to_have_text(["admin", "viewer"])
    screenshot(page, "credential-as-of")

    page.get_by_label("Instant (ISO-8601 with offset)").fill("2026-03-03T09:00:00Z")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#as-of-state")).to_contain_text("did not exist yet")

    scoped.get_by_role("link", name="state after this event").click()
    expect(page.locator("#as-of-state a.tag")).to_have_text(["admin", "viewer"])

    page.get_by_label("Instant (ISO-8601 with offset)").fill("2026-03-03T13:30:00")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".problems")).to_contain_text("has no UTC offset")


def test_the_role_timeline(signed_in: Page) -> None:
    page = signed_in
    page.get_by_role("link", name="Roles").click()
    page.get_by_label("Scoped role").fill("admin")
    page.get_by_role("button", name="Show").click()
    chart = page.locator("svg#role-timeline")
    expect(chart).to_be_visible()
    expect(chart.locator("g.lane")).to_have_count(2)
    expect(chart.locator("rect.held")).to_have_count(2)
    rows = page.locator("table tbody tr th")
    expect(rows).to_have_text(["cred-a", "cred-g"])
    expect(page.locator("table tbody")).to_contain_text("still held")
    screenshot(page, "role-admin")
    page.get_by_role("link", name="cred-g").click()
    expect(page.get_by_role("heading", name="Credential cred-g")).to_be_visible()

    page.goto("/console/roles?role=viewer")
    chart = page.locator("svg#role-timeline")
    expect(chart.locator("g.lane")).to_have_count(4)
    expect(chart.locator("rect.expired")).to_have_count(1)
    expect(chart.locator("rect.expired title")).to_have_text(re.compile(r"^cred-c: expired from"))


def test_the_anomaly_chart(signed_in: Page) -> None:
    page = signed_in
    page.get_by_role("link", name="Anomalies").click()
    chart = page.locator("svg#anomaly-chart")
    expect(chart).to_be_visible()
    counts = page.locator("section[aria-labelledby=counts-title] tbody tr")
    segments = chart.locator("g.day rect")
    assert segments.count() == counts.count() > 0
    heights = [float(value or 0) for value in
               segments.evaluate_all("rects => rects.map(r => r.getAttribute('height'))")]
    assert all(height > 0 for height in heights)
    expect(page.locator("ul.legend li")).to_contain_text(["USE_AFTER_DELETION"])
    flagged = page.locator("section[aria-labelledby=flagged-title] tbody th")
    expect(flagged.first).to_have_text(BUSY)
    screenshot(page, "anomalies")
    counts.first.get_by_role("link").click()
    expect(page.get_by_label("Search query")).to_have_value(re.compile(r"^anomaly:\w+ after:"))


def test_an_export_downloads_every_result_with_formulas_neutralised(signed_in: Page) -> None:
    page = signed_in
    page.goto(f"/console/search?q=credential%3A{BUSY}&limit=25")
    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV", exact=True).click()
    assert csv_download.value.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(csv_download.value.path().read_text())))
    assert len(rows) == 1 + BUSY_USES
    assert [row["actorId"] for row in rows if row["sequence"] == "2"] == ["'" + FORMULA_ACTOR]
    with page.expect_download() as jsonl_download:
        page.get_by_role("link", name="JSON lines").click()
    lines = jsonl_download.value.path().read_text().splitlines()
    assert len(lines) == 1 + BUSY_USES
    assert json.loads(lines[-1])["eventType"] == "CREATED"


def test_copy_as_cli_puts_the_command_on_the_clipboard(signed_in: Page) -> None:
    page = signed_in
    page.goto("/console/search?q=" + "%22it%27s+mine%22+type%3AUSED")
    page.get_by_role("button", name="Copy as CLI").click()
    expect(page.locator("#copy-status")).to_have_text("Copied: CLI command.")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == "client-audit search '\"it'\"'\"'s mine\" type:USED'"
    page.get_by_role("button", name="Copy as curl").click()
    assert page.evaluate("navigator.clipboard.readText()").startswith(
        'curl -sS -H "Authorization: Bearer $CLIENT_AUDIT_TOKEN" '
    )


def test_keyboard_navigation_with_labelled_controls(signed_in: Page) -> None:
    page = signed_in
    page.goto(f"/console/search?q=credential%3A{BUSY}")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, button, a[href]')].filter(element => {
            const labelled = element.labels && element.labels.length > 0;
            const named = (element.getAttribute('aria-label') || element.textContent).trim();
            return !labelled && !named;
        }).map(element => element.outerHTML)""")
    assert unlabelled == []
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("/")
    box = page.get_by_label("Search query")
    expect(box).to_be_focused()
    page.keyboard.press("End")
    page.keyboard.type(" -ip:2001:db8:77::1")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"-ip%3A2001%3Adb8%3A77%3A%3A1"))
    assert len(result_positions(page)) == 50
    page.get_by_label("Search query").focus()
    for _ in range(200):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Next page":
            break
    next_link = page.get_by_role("link", name="Next page")
    expect(next_link).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Results (continued)")).to_be_visible()
    assert len(result_positions(page)) == 1 + BUSY_USES - BUSY_USES // 4 - 50


def test_hostile_text_is_shown_not_obeyed(signed_in: Page) -> None:
    page = signed_in
    page.goto("/console/search?q=correlation%3Areq-shared")
    page.get_by_role("link", name="cred-g").first.click()
    renamed = page.locator("ol.timeline > li").filter(has_text="UPDATED")
    shown_then = renamed.locator(".changes .before")
    expect(shown_then).to_have_text(
        "\\u202eyek yolped <script>alert(1)</script> & \"x\""
    )
    assert page.locator("script:not([src])").count() == 0
    assert HOSTILE_NAME not in page.content()
    screenshot(page, "hostile-name")


def test_integrity_and_schema_pages(signed_in: Page) -> None:
    page = signed_in
    page.get_by_role("link", name="Integrity").click()
    expect(page.locator(".verdict")).to_contain_text("2 of 2 checks intact")
    expect(page.locator("code.hash").first).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    access = page.get_by_role("region", name="Access log chain")
    expect(access.locator("code.hash")).to_have_text(re.compile(r"^[0-9a-f]{64}$"))
    signed = page.locator("section", has=page.get_by_role("heading", name="Signed checkpoints"))
    expect(signed).to_contain_text(f"names key {SIGNING_KEY.key_id}")
    expect(signed).to_contain_text("verify-log --checkpoints --public-key")
    heads = page.locator("section", has=page.get_by_role("heading", name="Chain heads"))
    head_roots = [cells.nth(5).inner_text() for cells in
                  (row.locator("td") for row in heads.locator("tbody tr").all())]
    signed_roots = [cells.nth(3).inner_text() for cells in
                    (row.locator("td") for row in signed.locator("tbody tr").all())]
    assert head_roots == signed_roots and len(signed_roots) == 2
    screenshot(page, "integrity")
    page.get_by_role("link", name="Schemas").click()
    expect(page.get_by_role("heading", name="clientaudit.events.CredentialUsed")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="download .avsc").first.click()
    schema = json.loads(download.value.path().read_text())
    assert schema["type"] == "record" and download.value.suggested_filename.endswith(".avsc")
