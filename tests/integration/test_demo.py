"""The README's main job, end to end on the real broker: publish, project with signed
checkpoints, report, and a credential's evidence exported and checked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from client_audit.cli.main import cli
from projections.db.engine import create_engine_for
from projections.db.tables import audit_log

pytestmark = pytest.mark.integration


def test_the_demo_projects_reports_and_hands_over_checkable_evidence(
    kafka_bootstrap_servers: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", kafka_bootstrap_servers)
    database = tmp_path / "demo" / "demo.db"
    result = CliRunner().invoke(
        cli, ["demo", "--credentials", "25", "--database", str(database)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    for step in ("1. publishing to", "2. projecting into", "3. audit report", "4. evidence of"):
        assert step in result.output
    assert "Audit trail of" in result.output
    engine = create_engine_for(f"sqlite:///{database}")
    try:
        with engine.connect() as connection:
            flagged = connection.scalar(
                sa.select(sa.func.count()).where(audit_log.c.is_anomaly)) or 0
    finally:
        engine.dispose()
    assert flagged > 0
    assert f"{flagged} alerts (one per flagged entry) published to " in result.output
    evidence = tmp_path / "demo" / "evidence"
    manifest = json.loads((evidence / "manifest.json").read_text())
    assert manifest["entries"] > 0
    assert f"{manifest['entries']} of {manifest['entries']} proofs hold" in result.output
    [key] = list((evidence / "public-keys").glob("*.pem"))
    checked = subprocess.run(
        [sys.executable, "-I", str(evidence / "check_bundle.py"), str(evidence),
         "--public-key", str(key)],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin")},
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert (tmp_path / "demo" / "demo-signing-key.pem").stat().st_mode & 0o077 == 0
