"""Loading a migration revision's module (its frozen code) by file name, for tests."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from projections.db import migrate


def revision_module(filename: str) -> ModuleType:
    """The module of ``projections/db/migrations/versions/<filename>``."""
    path = migrate.MIGRATIONS / "versions" / filename
    spec = importlib.util.spec_from_file_location(f"frozen_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
