"""Rendering rows as tables, JSON, JSON lines and CSV: encodings, and streaming."""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from client_audit.output import (
    Format,
    csv_cell,
    default_format,
    field_names,
    write_record,
    write_rows,
)


class Sample(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, serialize_by_alias=True,
                              validate_by_name=True)

    credential_id: str
    seen_at: datetime
    roles: tuple[str, ...]
    payload: dict[str, Any]
    note: str | None


ROWS = [
    Sample(credential_id="cred-1", seen_at=datetime(2026, 3, 3, 10, tzinfo=UTC),
           roles=("admin", "viewer"), payload={"a": [1, "é"]}, note=None),
    Sample(credential_id='quote " and, comma', seen_at=datetime(2026, 3, 3, 11, tzinfo=UTC),
           roles=(), payload={}, note="line\nbreak"),
]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_default_format_is_a_table_on_a_terminal_and_jsonl_elsewhere() -> None:
    assert default_format(Tty()) is Format.TABLE
    assert default_format(io.StringIO()) is Format.JSONL


def test_field_names_are_the_camel_case_names_in_order() -> None:
    assert field_names(Sample) == ["credentialId", "seenAt", "roles", "payload", "note"]


def test_csv_cells() -> None:
    assert csv_cell(None) == ""
    assert csv_cell(["a", "b"]) == '["a","b"]'
    assert csv_cell({"k": "é"}) == '{"k":"é"}'
    assert csv_cell(3) == "3"


def test_csv_has_a_header_and_reads_back() -> None:
    out = io.StringIO()
    assert write_rows(ROWS, Sample, Format.CSV, out) == 2
    read = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert read[0] == {"credentialId": "cred-1", "seenAt": "2026-03-03T10:00:00Z",
                       "roles": '["admin","viewer"]', "payload": '{"a":[1,"é"]}', "note": ""}
    assert read[1]["credentialId"] == 'quote " and, comma' and read[1]["note"] == "line\nbreak"


def test_empty_exports() -> None:
    out_csv, out_json, out_jsonl = io.StringIO(), io.StringIO(), io.StringIO()
    assert write_rows([], Sample, Format.CSV, out_csv) == 0
    assert write_rows([], Sample, Format.JSON, out_json) == 0
    assert write_rows([], Sample, Format.JSONL, out_jsonl) == 0
    assert out_csv.getvalue() == "credentialId,seenAt,roles,payload,note\n"
    assert json.loads(out_json.getvalue()) == []
    assert out_jsonl.getvalue() == ""


@pytest.mark.parametrize("output", [Format.JSON, Format.JSONL])
def test_json_reads_back_into_the_rows(output: Format) -> None:
    out = io.StringIO()
    write_rows(ROWS, Sample, output, out)
    text = out.getvalue()
    documents = json.loads(text) if output is Format.JSON else [
        json.loads(line) for line in text.splitlines()
    ]
    assert [Sample.model_validate(document) for document in documents] == ROWS


class _Watched:
    """Rows handed out one at a time, recording what was written when each was asked for."""

    def __init__(self, out: io.StringIO, count: int) -> None:
        self.out = out
        self.count = count
        self.written_before: list[int] = []

    def __iter__(self) -> Iterator[Sample]:
        for index in range(self.count):
            self.written_before.append(len(self.out.getvalue()))
            yield ROWS[0].model_copy(update={"credential_id": f"cred-{index}"})


@pytest.mark.parametrize("output", [Format.JSON, Format.JSONL, Format.CSV])
def test_exports_stream_row_by_row(output: Format) -> None:
    out = io.StringIO()
    rows = _Watched(out, 5)
    assert write_rows(rows, Sample, output, out) == 5
    growth = rows.written_before
    assert growth[0] > 0 or output is Format.JSONL
    assert all(later > earlier for earlier, later in itertools.pairwise(growth))


def test_table_shows_the_chosen_columns() -> None:
    out = io.StringIO()
    assert write_rows(ROWS, Sample, Format.TABLE, out, ["credentialId", "roles"], "samples") == 2
    text = out.getvalue()
    assert "samples" in text and "credentialId" in text and "admin, viewer" in text
    assert "seenAt" not in text


def test_record_lists_every_field() -> None:
    out = io.StringIO()
    write_record(ROWS[0], out, title="credential cred-1")
    text = out.getvalue()
    for name in field_names(Sample):
        assert name in text
    assert "credential cred-1" in text
