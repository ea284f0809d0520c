"""client-audit demo: Kafka up, a simulated stream published, projected into SQLite with
signed checkpoints, reported, and one credential's evidence exported and checked."""

from __future__ import annotations

import json
import logging
import os
import secrets
import shlex
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, func, select

from client_audit.cli.context import settings_of
from client_audit.cli.project_wiring import run_projector
from client_audit.display import visible
from client_audit.report import AuditReport, build_report
from client_audit.settings import Settings
from projections.chain.signing import SigningKey
from projections.db.engine import create_engine_for
from projections.db.tables import alert_outbox
from projections.evidence import bundle
from projections.evidence.verification import verify_bundle

log = logging.getLogger(__name__)


def _bootstrap_servers(settings: Settings) -> str:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get(
        "CLIENT_AUDIT_KAFKA_BOOTSTRAP_SERVERS"
    ):
        return settings.kafka_bootstrap_servers
    from devservices import kafka

    log.info("starting (or reusing) the local Apache Kafka broker")
    return kafka.ensure_running(None)


@click.command()
@click.option(
    "--credentials",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Credentials to simulate.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Simulation seed.")
@click.option(
    "--database",
    "database_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".local/demo/client-audit-demo.db"),
    show_default=True,
    help="SQLite file to project into (replaced on every run).",
)
@click.pass_context
def demo(ctx: click.Context, /, credentials: int, seed: int, database_path: Path) -> None:
    """Run the whole pipeline once: start Kafka if needed, publish a realistic lifecycle
    stream to a fresh topic, project it into a fresh SQLite file and print the audit report."""
    base = settings_of(ctx)
    run = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    settings = base.model_copy(
        update={
            "kafka_bootstrap_servers": _bootstrap_servers(base),
            "lifecycle_topic": f"client-audit.demo-{run}.credential-lifecycle.v1",
            "dead_letter_topic": f"client-audit.demo-{run}.credential-lifecycle.v1.dlq",
            "checkpoint_topic": f"client-audit.demo-{run}.checkpoints.v1",
            "alert_topic": f"client-audit.demo-{run}.anomalies.v1",
        }
    )
    folder = database_path.parent
    folder.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database_path}{suffix}").unlink(missing_ok=True)
    key_file, evidence = folder / "demo-signing-key.pem", folder / "evidence"
    key_file.unlink(missing_ok=True)
    shutil.rmtree(evidence, ignore_errors=True)
    key = SigningKey.generate()
    key.write(key_file)
    settings = settings.model_copy(update={"signing_key": key_file})
    database_url = f"sqlite:///{database_path.resolve()}"
    # Stored text is shown as text: no emoji codes (``fd00:ab::1`` holds ``:ab:``), no markup.
    console = Console(
        width=None if sys.stdout.isatty() else 150, emoji=False, markup=False, highlight=False
    )
    console.rule(
        f"1. publishing to {settings.lifecycle_topic} on {settings.kafka_bootstrap_servers}"
    )
    from client_audit.cli.simulate import simulate

    ctx.obj.settings = settings
    ctx.invoke(
        simulate,
        credentials=credentials,
        events_per_credential=10,
        users=None,
        seed=seed,
        start=None,
        progress=True,
    )
    console.rule(f"2. projecting into {database_url}")
    report = run_projector(
        settings,
        database_url,
        group_id=f"client-audit-demo-{run}",
        until_caught_up=True,
        batch_size=5000,
    )
    console.print(
        f"applied {report.applied} events in {report.elapsed_s:.1f} s "
        f"({report.rate:.0f}/s); {report.dead_lettered} dead-lettered"
    )
    engine = create_engine_for(database_url)
    published = _published_alerts(engine)
    console.print(
        f"{published} alerts (one per flagged entry) published to {settings.alert_topic} as "
        "CloudEvents (binary mode, Avro); webhooks and SIEMs get them with --alerts FILE"
    )
    console.rule("3. audit report")
    try:
        audit = build_report(engine)
        print_report(console, audit)
        if audit.highlighted_credential is not None:
            console.rule(f"4. evidence of {visible(audit.highlighted_credential)}")
            with engine.connect() as connection:
                summary = bundle.export(connection, audit.highlighted_credential, evidence)
            results = verify_bundle(evidence, {key.key_id: key.public})
            held = sum(result.holds for result in results)
            console.print(
                f"exported {summary.entries} entries with inclusion proofs to {evidence}; "
                f"{held} of {len(results)} proofs hold against checkpoint key {key.key_id} "
                f"(check them anywhere: python3 {evidence / 'check_bundle.py'} {evidence} "
                f"--public-key {evidence / 'public-keys' / f'{key.key_id}.pem'})"
            )
    finally:
        engine.dispose()
    console.print(
        f"\nThe projection stays in {database_path}; the events stay on "
        f"{settings.lifecycle_topic}; the demo's signing key is {key_file}."
    )
    token = secrets.token_urlsafe(24)
    console.rule("5. the investigator console")
    console.print("Open the console on this data (then http://127.0.0.1:8080/console, and sign in "
                  "with the token in the command):")
    click.echo(console_command(database_url, token))


def _published_alerts(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(
            select(func.count()).where(alert_outbox.c.published_at.is_not(None))
        ) or 0


def console_command(database_url: str, token: str, port: int = 8080) -> str:
    """The one shell command that serves the console over ``database_url``."""
    running = Path(sys.argv[0])
    if running.name == "client-audit" and running.exists():
        program = [str(running.resolve())]
    elif installed := shutil.which("client-audit"):
        program = [installed]
    else:
        program = [sys.executable, "-m", "client_audit.cli"]
    tokens = json.dumps([token])
    words = [*program, "--database-url", database_url, "serve", "--port", str(port)]
    return f"CLIENT_AUDIT_API_TOKENS={shlex.quote(tokens)} " + " ".join(
        shlex.quote(word) for word in words
    )


def _counts_table(title: str, counts: dict[str, int]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("value")
    table.add_column("count", justify="right")
    for key, count in counts.items():
        table.add_row(visible(key), str(count))
    return table


def print_report(console: Console, report: AuditReport) -> None:
    console.print(_counts_table("Credentials by status", report.credentials_by_status))
    console.print(_counts_table("Events by type", report.events_by_type))
    console.print(_counts_table("Denied uses by reason", report.denied_by_reason))
    console.print(_counts_table("Anomalies by kind", report.anomalies_by_kind))
    if report.highlighted_credential is None:
        return
    trail = Table(
        title=f"Audit trail of {visible(report.highlighted_credential)} "
        "(most anomalous allowed uses)",
        title_justify="left",
    )
    for column in (
        "seq",
        "occurred at (UTC)",
        "event",
        "actor",
        "source IP",
        "outcome",
        "anomalies",
    ):
        trail.add_column(column)
    for entry in report.trail:
        outcome = entry["outcome"] or ""
        if entry["denial_reason"]:
            outcome = f"{outcome} ({entry['denial_reason']})"
        trail.add_row(
            str(entry["sequence"]),
            entry["occurred_at"].strftime("%Y-%m-%d %H:%M:%S"),
            entry["event_type"],
            visible(entry["actor_id"]),
            entry["source_ip"] or "",
            outcome,
            ", ".join(entry["anomalies"]),
        )
    console.print(trail)
