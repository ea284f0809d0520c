"""Backward compatibility of the event contract with every released version in schemas/history.

Every release folder (v1, v2, ...) is kept forever. Data written with any released schema must
be readable with every later release and with the current contract (transitive backward
compatibility), and its fingerprint must stay known to the registry so old messages on the
topic still decode.

Releasing a new version: copy schemas/avro/*.avsc into schemas/history/vN+1 and add its
fingerprints to RELEASED_FINGERPRINTS below (the pins prove no release is edited afterwards).
The alert record (``clientaudit.alerts.Alert``, on the alert topic) is held to the same rules
from v2, its first release.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import json
import random
import types
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import fastavro
import fastavro.utils
import pytest
from fastavro.read import SchemaResolutionError
from fastavro.schema import fingerprint, to_parsing_canonical_form

from schemas.alerts import ALERT_SCHEMA_NAME, alert_schema, decode_alert, encode_alert
from schemas.codec import EventCodec
from schemas.models import EVENT_CLASSES_BY_SCHEMA
from schemas.registry import AVRO_DIR, HISTORY_DIR, default_registry, releases
from tests.builders import one_of_each

RECORDS_PER_SCHEMA = 300

RELEASED_FINGERPRINTS: dict[str, dict[str, str]] = {
    "v1": {
        "clientaudit.events.CredentialCreated": "08946aa2c7f32a68",
        "clientaudit.events.CredentialRolesScoped": "8f7210aad464a33b",
        "clientaudit.events.CredentialUpdated": "9191c2148237ae43",
        "clientaudit.events.CredentialUsed": "0799be1dc41fb408",
        "clientaudit.events.CredentialExpired": "95e9ef84416305fb",
        "clientaudit.events.CredentialDeleted": "bdeda98aadeaa88f",
    },
    "v2": {
        "clientaudit.alerts.Alert": "fd13bf014dbca78f",
        "clientaudit.events.CredentialCreated": "08946aa2c7f32a68",
        "clientaudit.events.CredentialDeleted": "bdeda98aadeaa88f",
        "clientaudit.events.CredentialExpired": "95e9ef84416305fb",
        "clientaudit.events.CredentialRolesScoped": "8f7210aad464a33b",
        "clientaudit.events.CredentialUpdated": "9191c2148237ae43",
        "clientaudit.events.CredentialUsed": "0799be1dc41fb408",
    },
}
"""Fingerprints of every released record schema (events, and from v2 the alert record); a
release folder is never edited."""

EVENT_NAMES = sorted(EVENT_CLASSES_BY_SCHEMA)
CONTRACT_NAMES = sorted([*EVENT_NAMES, ALERT_SCHEMA_NAME])
"""Every record of the contract: the lifecycle events and the alert record (from v2 on)."""


# --- loading ---------------------------------------------------------------------------------


def raw_files(folder: Path) -> dict[str, Any]:
    """Every .avsc file in a folder as JSON, by the full name of the type it defines."""
    files = {}
    for path in sorted(folder.glob("*.avsc")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        name = (
            schema["name"] if "." in schema["name"] else f"{schema['namespace']}.{schema['name']}"
        )
        assert path.name == f"{name}.avsc", f"{path} defines {name}"
        files[name] = schema
    return files


def expanded(files: dict[str, Any], name: str) -> dict[str, Any]:
    """The event record schema with the named types of other files inlined (a plain dict that
    tests may alter before parsing)."""
    seen: set[str] = set()

    def inline(schema: Any) -> Any:
        if isinstance(schema, str):
            if schema in files and schema not in seen:
                seen.add(schema)
                return inline(copy.deepcopy(files[schema]))
            return schema
        if isinstance(schema, list):
            return [inline(branch) for branch in schema]
        if isinstance(schema, dict):
            if schema.get("type") in ("record", "enum", "fixed"):
                full = (
                    schema["name"]
                    if "." in schema["name"]
                    else (f"{schema.get('namespace', 'clientaudit.events')}.{schema['name']}")
                )
                seen.add(full)
            return {
                key: inline(value) if key in ("type", "fields", "items", "values") else value
                for key, value in schema.items()
            }
        return schema

    result: dict[str, Any] = inline(copy.deepcopy(files[name]))
    return result


def parsed(schema: dict[str, Any]) -> Any:
    return fastavro.parse_schema(copy.deepcopy(schema))


def versions() -> list[tuple[str, Path]]:
    """Every released folder, oldest first, then the current contract."""
    return [(folder.name, folder) for folder in releases()] + [("current", AVRO_DIR)]


def event_schemas(folder: Path) -> dict[str, dict[str, Any]]:
    """Every contract record (events and alert) a folder defines, named types expanded."""
    files = raw_files(folder)
    return {name: expanded(files, name) for name in CONTRACT_NAMES if name in files}


# --- the checker -----------------------------------------------------------------------------


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Make fastavro's generators reproducible: seed ``random`` (restored afterwards) and the
    UUIDs it would otherwise draw from os.urandom."""
    state = random.getstate()
    rng = random.Random(seed)
    random.seed(seed)
    seeded_uuid = types.SimpleNamespace(
        uuid4=lambda: uuid.UUID(int=rng.getrandbits(128), version=4)
    )
    try:
        with mock.patch.object(fastavro.utils, "uuid", seeded_uuid):
            yield
    finally:
        random.setstate(state)


def generate(schema: dict[str, Any], count: int, seed: int) -> list[Any]:
    with seeded(seed):
        return list(fastavro.utils.generate_many(parsed(schema), count))


def _common_equal(resolved: Any, original: Any, path: str) -> None:
    """Values the reader kept from the writer are unchanged (recursively, by field name)."""
    if isinstance(resolved, dict) and isinstance(original, dict):
        for key, value in resolved.items():
            if key in original:
                _common_equal(value, original[key], f"{path}.{key}")
        return
    assert resolved == original, f"{path}: {resolved!r} != {original!r}"


def check_can_read(writer: dict[str, Any], reader: dict[str, Any], records: list[Any]) -> None:
    """Write every record with ``writer`` and read it back with ``reader`` (Avro schema
    resolution); raise if any record cannot be read or loses a value."""
    writer_schema, reader_schema = parsed(writer), parsed(reader)
    reader_fields = [field["name"] for field in reader["fields"]]
    for record in records:
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, writer_schema, record)
        data = buffer.getvalue()
        as_written = fastavro.schemaless_reader(io.BytesIO(data), writer_schema, None)
        stream = io.BytesIO(data)
        resolved = fastavro.schemaless_reader(stream, writer_schema, reader_schema)
        assert stream.tell() == len(data), "reader stopped before the end of the record"
        assert isinstance(resolved, dict)
        assert list(resolved) == reader_fields
        _common_equal(resolved, as_written, writer["name"])


def _seed(*parts: str) -> int:
    return int.from_bytes(uuid.uuid5(uuid.NAMESPACE_OID, "/".join(parts)).bytes[:8], "big")


VERSION_PAIRS = [
    (old, new) for index, (old, _) in enumerate(versions()) for new, _ in versions()[index + 1 :]
]


def test_there_is_at_least_one_release_and_it_is_compared_with_current() -> None:
    assert next(name for name, _ in versions()) == "v1"
    assert ("v1", "current") in VERSION_PAIRS


COMPAT_CASES = [
    (old, new, name)
    for old, new in VERSION_PAIRS
    for name in CONTRACT_NAMES
    if name in event_schemas(dict(versions())[old])
]
"""Every record of every version against every later version (from its first release)."""


@pytest.mark.parametrize(
    ("old", "new", "name"), COMPAT_CASES,
    ids=[f"{o}->{n}-{name.rpartition('.')[2]}" for o, n, name in COMPAT_CASES],
)
def test_data_written_with_an_earlier_version_is_readable_with_every_later_one(
    old: str, new: str, name: str
) -> None:
    folders = dict(versions())
    old_schemas, new_schemas = event_schemas(folders[old]), event_schemas(folders[new])
    assert name in new_schemas, (
        f"{name} was removed after {old}: its old messages would be unreadable"
    )
    records = generate(old_schemas[name], RECORDS_PER_SCHEMA, _seed(old, new, name))
    check_can_read(old_schemas[name], new_schemas[name], records)


def test_generated_records_are_varied() -> None:
    """Control: the generator covers both branches of unions and every enum symbol."""
    used = event_schemas(AVRO_DIR)["clientaudit.events.CredentialUsed"]
    records = generate(used, RECORDS_PER_SCHEMA, 1)
    assert {record["outcome"] for record in records} == {"ALLOWED", "DENIED"}
    assert {record["denialReason"] for record in records} == {
        None,
        "OUTSIDE_ALLOWED_CIDRS",
        "EXPIRED",
        "DELETED",
    }
    assert len({record["envelope"]["eventId"] for record in records}) == RECORDS_PER_SCHEMA
    assert generate(used, 3, 5) == generate(used, 3, 5)


# --- the checker fails on incompatible changes ------------------------------------------------


def _current(name: str) -> dict[str, Any]:
    return event_schemas(AVRO_DIR)[f"clientaudit.events.{name}"]


def _field(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(field for field in schema["fields"] if field["name"] == name)


def _next_version_adding_field_without_default() -> tuple[dict[str, Any], dict[str, Any]]:
    old = _current("CredentialUsed")
    new = copy.deepcopy(old)
    new["fields"].append({"name": "sourcePort", "type": "int"})
    return old, new


def _next_version_renaming_a_field() -> tuple[dict[str, Any], dict[str, Any]]:
    old = _current("CredentialUsed")
    new = copy.deepcopy(old)
    _field(new, "sourceIp")["name"] = "sourceAddress"
    return old, new


def _next_version_renaming_an_envelope_field() -> tuple[dict[str, Any], dict[str, Any]]:
    old = _current("CredentialExpired")
    new = copy.deepcopy(old)
    _field(_field(new, "envelope")["type"], "sequence")["name"] = "seq"
    return old, new


def _next_version_changing_a_type() -> tuple[dict[str, Any], dict[str, Any]]:
    old = _current("CredentialUsed")
    new = copy.deepcopy(old)
    _field(new, "sourceIp")["type"] = "long"
    return old, new


def _next_version_removing_an_enum_symbol() -> tuple[dict[str, Any], dict[str, Any]]:
    old = _current("CredentialUsed")
    new = copy.deepcopy(old)
    _field(new, "outcome")["type"]["symbols"] = ["ALLOWED"]
    return old, new


def _next_version_making_an_optional_field_required() -> tuple[dict[str, Any], dict[str, Any]]:
    old = _current("CredentialDeleted")
    new = copy.deepcopy(old)
    reason = _field(new, "reason")
    reason["type"] = "string"
    del reason["default"]
    return old, new


def _next_version_renaming_the_record() -> tuple[dict[str, Any], dict[str, Any]]:
    old = _current("CredentialDeleted")
    new = copy.deepcopy(old)
    new["name"] = "CredentialRemoved"
    return old, new


INCOMPATIBLE = {
    "add-field-without-default": _next_version_adding_field_without_default,
    "rename-field": _next_version_renaming_a_field,
    "rename-envelope-field": _next_version_renaming_an_envelope_field,
    "change-field-type": _next_version_changing_a_type,
    "remove-enum-symbol": _next_version_removing_an_enum_symbol,
    "optional-to-required": _next_version_making_an_optional_field_required,
    "rename-record": _next_version_renaming_the_record,
}


@pytest.mark.parametrize("change", list(INCOMPATIBLE))
def test_checker_rejects_an_incompatible_next_version(change: str) -> None:
    old, new = INCOMPATIBLE[change]()
    records = generate(old, RECORDS_PER_SCHEMA, _seed("incompatible", change))
    with pytest.raises(SchemaResolutionError):
        check_can_read(old, new, records)


def _next_version_adding_field_with_default() -> tuple[dict[str, Any], dict[str, Any]]:
    old = _current("CredentialUsed")
    new = copy.deepcopy(old)
    new["fields"].append({"name": "sourcePort", "type": ["null", "int"], "default": None})
    new["fields"].append({"name": "userAgent", "type": "string", "default": "unknown"})
    return old, new


def _next_version_renaming_with_alias() -> tuple[dict[str, Any], dict[str, Any]]:
    old, new = _next_version_renaming_a_field()
    _field(new, "sourceAddress")["aliases"] = ["sourceIp"]
    return old, new


def _next_version_widening_an_enum() -> tuple[dict[str, Any], dict[str, Any]]:
    old = _current("CredentialUsed")
    new = copy.deepcopy(old)
    _field(new, "outcome")["type"]["symbols"] = ["ALLOWED", "DENIED", "CHALLENGED"]
    return old, new


COMPATIBLE = {
    "add-fields-with-defaults": _next_version_adding_field_with_default,
    "rename-with-alias": _next_version_renaming_with_alias,
    "add-enum-symbol": _next_version_widening_an_enum,
}


@pytest.mark.parametrize("change", list(COMPATIBLE))
def test_checker_accepts_a_compatible_next_version(change: str) -> None:
    old, new = COMPATIBLE[change]()
    check_can_read(old, new, generate(old, RECORDS_PER_SCHEMA, _seed("compatible", change)))


def test_checker_notices_a_lost_value() -> None:
    """Reading through a reader that turns a value into its default counts as a failure."""
    records = [{"a": 1}]
    writer = {"type": "record", "name": "T", "fields": [{"name": "a", "type": "int"}]}
    with pytest.raises(AssertionError):
        _common_equal({"a": 2}, records[0], "T")
    check_can_read(writer, writer, records)


# --- the registry knows every released fingerprint --------------------------------------------


def _released() -> list[tuple[str, str, Path]]:
    return [
        (folder.name, name, folder / f"{name}.avsc")
        for folder in releases()
        for name in EVENT_NAMES
        if (folder / f"{name}.avsc").exists()
    ]


def test_every_release_folder_is_pinned_and_unchanged() -> None:
    assert [folder.name for folder in releases()] == list(RELEASED_FINGERPRINTS)
    for folder in releases():
        files = raw_files(folder)
        actual = {
            name: fingerprint(
                to_parsing_canonical_form(parsed(expanded(files, name))), "CRC-64-AVRO"
            )
            for name in CONTRACT_NAMES
            if name in files
        }
        assert actual == RELEASED_FINGERPRINTS[folder.name], f"{folder} was edited after release"


def test_history_folders_are_only_release_folders() -> None:
    for path in HISTORY_DIR.iterdir():
        assert path.is_dir() and path.name.startswith("v") and path.name[1:].isdigit(), path


def test_event_types_are_never_removed_from_a_later_release() -> None:
    names = [set(event_schemas(folder)) for _, folder in versions()]
    for earlier, later in itertools.pairwise(names):
        assert earlier <= later


@pytest.mark.parametrize(
    ("release", "name", "path"),
    _released(),
    ids=[f"{r}-{n.rpartition('.')[2]}" for r, n, _ in _released()],
)
def test_every_released_fingerprint_is_decodable_via_the_registry(
    release: str, name: str, path: Path
) -> None:
    registry = default_registry()
    digest = bytes.fromhex(RELEASED_FINGERPRINTS[release][name])
    writer = registry.by_fingerprint(digest)
    assert writer is not None, f"{release} {name} ({digest.hex()}) unknown to the registry"
    assert writer.name == name
    assert writer.fingerprint == digest

    # an old message (old writer schema, old fingerprint) decodes with today's codec
    event = next(event for event in one_of_each() if event.schema_name == name)
    old_schema = parsed(expanded(raw_files(path.parent), name))
    buffer = io.BytesIO()
    buffer.write(b"\xc3\x01" + digest)
    fastavro.schemaless_writer(buffer, old_schema, event.to_record())
    decoded = EventCodec(registry).decode(buffer.getvalue())
    assert type(decoded) is type(event)
    assert decoded.envelope == event.envelope


def test_registry_knows_every_pinned_fingerprint_and_current() -> None:
    known = set(default_registry().known_fingerprints())
    pinned = {
        value
        for release in RELEASED_FINGERPRINTS.values()
        for name, value in release.items()
        if name != ALERT_SCHEMA_NAME
    }
    assert pinned <= known
    current = {default_registry().current(name).fingerprint_hex for name in EVENT_NAMES}
    assert current <= known


# --- the current contract against the newest release ------------------------------------------


def test_current_contract_equals_newest_release_or_differs_compatibly() -> None:
    newest = releases()[-1]
    released, current = raw_files(newest), raw_files(AVRO_DIR)
    missing = set(released) - set(current)
    assert not missing, f"types of {newest.name} missing from the contract: {missing}"
    changed = sorted(name for name in released if released[name] != current[name])
    if not changed:
        return
    # unreleased changes must already be compatible (then release them as v{n+1})
    old_events, new_events = event_schemas(newest), event_schemas(AVRO_DIR)
    for name in old_events:
        records = generate(old_events[name], RECORDS_PER_SCHEMA, _seed("newest", name))
        check_can_read(old_events[name], new_events[name], records)


def test_current_fingerprints_match_the_newest_release_when_unchanged() -> None:
    newest = releases()[-1]
    if raw_files(newest) != raw_files(AVRO_DIR):
        pytest.skip("the contract has unreleased (compatible) changes")
    current = {name: default_registry().current(name).fingerprint_hex for name in EVENT_NAMES}
    current[ALERT_SCHEMA_NAME] = alert_schema()[1].hex()
    assert current == RELEASED_FINGERPRINTS[newest.name]


def test_the_current_alert_schema_is_the_latest_release_and_decodes_its_records() -> None:
    """Alerts written with the current schema carry the fingerprint of the latest release
    holding the alert record, and decode back to the record written."""
    latest = next(f for f in reversed(releases()) if (f / f"{ALERT_SCHEMA_NAME}.avsc").exists())
    _schema, digest = alert_schema()
    assert digest.hex() == RELEASED_FINGERPRINTS[latest.name][ALERT_SCHEMA_NAME]
    for record in generate(event_schemas(AVRO_DIR)[ALERT_SCHEMA_NAME], 50, _seed("alert")):
        data = encode_alert(record)
        assert data[:10] == b"\xc3\x01" + digest
        as_written = fastavro.schemaless_reader(io.BytesIO(data[10:]), parsed(
            event_schemas(AVRO_DIR)[ALERT_SCHEMA_NAME]), None)
        assert decode_alert(data) == as_written
