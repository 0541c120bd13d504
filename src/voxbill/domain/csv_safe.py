"""CSV that a spreadsheet opens as data, never as a formula (CSV / formula injection).

Text in voxbill's CSV exports comes from outside: session ids and callers from SIP
headers, RADIUS and REST bodies, destinations and plan names from carrier decks. A
spreadsheet evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, after
stripping it, a leading TAB or CR), so ``=HYPERLINK(…)`` in a Call-ID would run on the
operator's desk. The OWASP rule, applied to every cell voxbill writes:

- a **text** cell starting with one of those six characters gets a leading ``'``, which
  spreadsheets show as text and which a program can strip;
- a cell holding ``,``, ``;``, ``"``, CR or LF is wrapped in double quotes (inner quotes
  doubled), so a spreadsheet that splits on ``;`` cannot start a new cell mid-text;
- a **number** cell (a ``Decimal`` or ``int`` that voxbill formats itself) is written as
  it is: ``-1.50`` stays a machine-readable amount, and no outside text can reach it.

Callers type their cells (``str`` is text; ``Decimal``/``int`` are numbers), so whether a
leading ``-`` is a negative amount or an attack is decided by where the value came from,
never by guessing from its characters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Final

from voxbill.domain.money import canonical

#: A cell starting with one of these is read as a formula (OWASP CSV injection).
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r")
#: A cell holding one of these is quoted (``;`` for spreadsheets that split on it).
_QUOTE_TRIGGERS: Final = frozenset(',;"\r\n')

#: What a CSV row may hold: text (neutralised), a number (as is), a flag, or nothing.
Cell = str | Decimal | int | bool | None


def neutralise(text: str) -> str:
    """``text`` as a spreadsheet shows it, never evaluates it."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def cell_text(value: Cell) -> str:
    """One cell's characters before CSV quoting."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return canonical(value)
    if isinstance(value, int):
        return str(value)
    return neutralise(value)


def _quoted(text: str) -> str:
    if _QUOTE_TRIGGERS.isdisjoint(text):
        return text
    return '"' + text.replace('"', '""') + '"'


def csv_line(cells: Iterable[Cell]) -> str:
    """One CSV record, ``\\n``-terminated, every cell neutralised and quoted as needed."""
    texts = [_quoted(cell_text(value)) for value in cells]
    if texts == [""]:
        return '""\n'  # as the csv module writes it: a blank line would be no record
    return ",".join(texts) + "\n"


def csv_document(header: Sequence[str], rows: Iterable[Iterable[Cell]]) -> str:
    """A whole CSV text: the header, then one record per row."""
    return "".join([csv_line(header), *(csv_line(row) for row in rows)])
