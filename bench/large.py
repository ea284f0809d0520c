"""The large-data figures: query latency over 1,000,000 and 10,000,000 audit rows, in
process (bench/query_latency.py) and through HTTP (bench/console_latency.py).

Each script builds or reuses the log in its own schema of the service database; their JSON
becomes figures here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.figures import Figure
from bench.services import service_database

BASE_ROWS = 1_000_000


def query_latency_figures(rows: int) -> list[Figure]:
    copies = max(1, rows // BASE_ROWS)
    script = Path(__file__).with_name("query_latency.py")
    command = [
        sys.executable,
        str(script),
        "--rows",
        str(min(rows, BASE_ROWS)),
        "--copies",
        str(copies),
        "--reuse",
        "--schema",
        f"client_audit_bench_{rows}",
        "--database-url",
        service_database(),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(output.stdout)
    figures = []
    for key, name in (
        ("trail_by_credential", "trail of a credential"),
        ("trail_by_owner", "trail of an owner"),
        ("uses_by_source_ip", "uses from a source IP"),
    ):
        timing = result[key]
        label = f"{name}, {result['audit_rows']:,} rows"
        figures.append(Figure(f"{label} p50", "ms", [timing["p50_ms"]], higher_is_better=False))
        figures.append(Figure(f"{label} p99", "ms", [timing["p99_ms"]], higher_is_better=False))
    return figures


CONSOLE_ROUTES = (
    ("console_search_by_credential", "console search credential:ID"),
    ("console_search_by_owner_negated", "console search user:ID -outcome:ALLOWED"),
    ("console_credential_page", "console credential page"),
    ("v1_trail_by_credential", "GET /v1/trail?credentialId="),
    ("v1_trail_by_owner", "GET /v1/trail?userId="),
)


def console_latency_figures(rows: int) -> list[Figure]:
    """p50 and p99 through HTTP of the console's pages and the API's trail routes."""
    command = [
        sys.executable,
        str(Path(__file__).with_name("console_latency.py")),
        "--rows",
        str(rows),
        "--database-url",
        service_database(),
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True)
    result = json.loads(output.stdout)
    figures = []
    for key, name in CONSOLE_ROUTES:
        timing = result["http"][key]
        label = f"{name}, {result['audit_rows']:,} rows, HTTP"
        figures.append(Figure(f"{label} p50", "ms", [timing["p50_ms"]], higher_is_better=False))
        figures.append(Figure(f"{label} p99", "ms", [timing["p99_ms"]], higher_is_better=False))
    return figures
