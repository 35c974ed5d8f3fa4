"""CSV formula neutralisation (OWASP CSV injection, plus Unicode look-alikes; issue 13)."""

from __future__ import annotations

import pytest

from hub.domain.spreadsheet import neutralise_cell

FORMULAS = [
    "=1+1",
    "+1",
    "-1",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    " =1",
    "   @x",
    "\u00a0=1",  # no-break space
    "\u3000=1",  # ideographic space
    "\u200b=1",  # zero-width space
    "\u202e=1",  # right-to-left override
    "\ufeff=1",  # byte order mark
    "\u2028=1",  # line separator
    "\u200b \u00a0\u202e+1",
    "\uff1d1+1",  # fullwidth equals
    "\uff0b1",
    "\uff0d1",
    "\uff20x",
    "\ufe66x",  # small equals
    "\ufe62x",
    "\ufe63x",
    "\u207cx",  # superscript equals
    "\u2212 5",  # minus sign
    "\u0301=1",  # a combining mark before
]
TEXT = ["", "plain", "a=1", "'=already", "1-2", "\u00e9=", "\uff10", "\u200b", "caf\u00e9"]


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_formula_behind_spaces_invisibles_or_look_alikes_is_quoted(cell: str) -> None:
    assert neutralise_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", TEXT)
def test_text_is_left_alone(cell: str) -> None:
    assert neutralise_cell(cell) == cell
