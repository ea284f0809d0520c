"""The large-data figures: query latency over 1,000,000 and 10,000,000 audit rows.

Runs bench/query_latency.py (which builds or reuses the log in its own schema of the
service database) and turns its JSON into figures.
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
