"""Imports follow the one-way flow: schemas <- projections <- consumer, relay <- client_audit.

Read from the source with ``ast``: every project import of every module is held against
the rooms it may use. Inside ``projections``, the pure model uses nothing of the storage,
and the storage schema (``db``) nothing of the capabilities built on it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = (
    "schemas", "projections", "producer", "consumer", "relay", "client_audit", "devservices",
)

ALLOWED: dict[str, set[str]] = {
    "schemas": {"schemas"},
    "projections": {"schemas", "projections"},
    "projections.model": {"schemas", "projections.model"},
    "projections.db": {"schemas", "projections.model", "projections.db"},
    "projections.chain": {"schemas", "projections.model", "projections.db", "projections.chain"},
    "projections.alerts": {
        "schemas", "projections.model", "projections.db", "projections.alerts",
    },
    "projections.write": {
        "schemas", "projections.model", "projections.db", "projections.chain",
        "projections.alerts", "projections.write",
    },
    "projections.forensics": {
        "schemas", "projections.model", "projections.db", "projections.forensics",
    },
    "projections.access": {
        "schemas", "projections.model", "projections.db", "projections.chain",
        "projections.access",
    },
    "projections.queries": {
        "schemas", "projections.model", "projections.db", "projections.queries",
    },
    "projections.evidence": {
        "schemas", "projections.model", "projections.db", "projections.chain",
        "projections.queries", "projections.evidence",
    },
    "producer": {"schemas", "producer"},
    "consumer": {"schemas", "projections", "consumer"},
    "relay": {"schemas", "projections", "producer", "relay"},
    "devservices": {"devservices"},
    "client_audit": {"schemas", "projections", "producer", "consumer", "relay", "client_audit",
                     "devservices"},
}
"""Room -> the rooms (packages or sub-packages) its modules may import from."""


def room_of(module: str) -> str:
    """The most specific room in ALLOWED that holds ``module``."""
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        candidate = ".".join(parts[:length])
        if candidate in ALLOWED:
            return candidate
    raise KeyError(module)


def project_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found.update(name for name in names if name.split(".")[0] in PROJECT)
    return found


def modules() -> list[tuple[str, Path]]:
    found = []
    for package in PROJECT:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT).with_suffix("")
            found.append((".".join(relative.parts), path))
    return found


@pytest.mark.parametrize(("module", "path"), modules(), ids=[name for name, _ in modules()])
def test_imports_go_one_way(module: str, path: Path) -> None:
    room = room_of(module)
    allowed = ALLOWED[room]
    wrong = sorted(
        name for name in project_imports(path)
        if not any(name == each or name.startswith(f"{each}.") for each in allowed)
    )
    assert wrong == [], f"{module} ({room}) imports {wrong}"


def test_the_rooms_cover_every_module() -> None:
    for module, _path in modules():
        assert room_of(module)
