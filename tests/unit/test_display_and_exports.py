"""Hostile text in exports and on terminals: CSV formulas neutralised (OWASP), control and
invisible characters escaped in tables and in log lines."""

from __future__ import annotations

import csv
import io
import json
import logging

import pytest
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from client_audit.display import visible, visible_json
from client_audit.logs import StructuredFormatter
from client_audit.output import Format, csv_cell, write_record, write_rows


class Row(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, serialize_by_alias=True,
                              validate_by_name=True)

    display_name: str
    position: int
    roles: list[str]


FORMULAS = ['=HYPERLINK("http://evil.example/","click")', "+1+1", "-2+3", "@SUM(A1:A2)",
            "\t=1", "\r=1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_csv_cells_that_a_spreadsheet_would_run_get_a_leading_quote(text: str) -> None:
    assert csv_cell(text) == "'" + text
    assert csv_cell(text, neutralise=False) == text


def test_csv_leaves_numbers_lists_and_harmless_text_alone() -> None:
    assert csv_cell(-5) == "-5"
    assert csv_cell(["=x"]) == '["=x"]'
    assert csv_cell("laptop = fine") == "laptop = fine"
    assert csv_cell("") == ""


def test_csv_exports_neutralise_by_default_and_csv_raw_keeps_cells_as_stored() -> None:
    rows = [Row(display_name=FORMULAS[0], position=1, roles=["=cmd"])]
    safe, raw = io.StringIO(), io.StringIO()
    write_rows(rows, Row, Format.CSV, safe)
    write_rows(rows, Row, Format.CSV_RAW, raw)
    (_, neutral), = [list(csv.reader(io.StringIO(safe.getvalue())))]
    assert neutral == ["'" + FORMULAS[0], "1", '["=cmd"]']
    assert list(csv.reader(io.StringIO(raw.getvalue())))[1][0] == FORMULAS[0]


HOSTILE = "\x1b[2J\x1b[31mred\x9bX\u202eevil\r\x07bell\u2028"


def test_visible_escapes_every_non_printable_character() -> None:
    shown = visible(HOSTILE)
    assert shown == "\\x1b[2J\\x1b[31mred\\x9bX\\u202eevil\\x0d\\x07bell\\u2028"
    assert shown.isprintable()
    assert visible("Zürich ユーザー 🔑") == "Zürich ユーザー 🔑"


def test_visible_json_keeps_the_value_and_escapes_what_json_leaves_raw() -> None:
    text = json.dumps({"name": HOSTILE + "\U000e0001"}, ensure_ascii=False)
    shown = visible_json(text)
    assert shown.isprintable()
    assert json.loads(shown) == json.loads(text)


def test_tables_show_hostile_text_escaped() -> None:
    out = io.StringIO()
    write_rows([Row(display_name=HOSTILE, position=1, roles=["ad\x1bmin"])], Row, Format.TABLE,
               out, title=f"trail of {HOSTILE}")
    write_record(Row(display_name=HOSTILE, position=2, roles=[]), out, title=HOSTILE)
    text = out.getvalue()
    for raw in ("\x1b", "\x9b", "\u202e", "\r", "\x07", "\u2028"):
        assert raw not in text
    assert "\\x1b[2J" in text and "ad\\x1bmin" in text


@pytest.mark.parametrize("as_json", [False, True])
def test_log_lines_escape_hostile_values(as_json: bool) -> None:
    record = logging.makeLogRecord({
        "name": "consumer.dead_letter", "levelname": "WARNING", "levelno": 30,
        "msg": "dead-lettered %s: %s", "args": ("t[0]@1", HOSTILE),
    })
    line = StructuredFormatter(as_json).format(record)
    assert line.isprintable()
    assert "\\u202e" in line or "\\\\u202e" in line
    if as_json:
        assert json.loads(line)["msg"].endswith(HOSTILE)
