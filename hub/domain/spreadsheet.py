"""Cells that a spreadsheet would run as a formula, neutralised for every CSV export of the hub
(OWASP "CSV Injection"): a cell whose first visible character is = + - @ (or starts with a tab or
carriage return) gets a leading single quote, so the spreadsheet shows it as text.

"First visible" is what a spreadsheet sees after it skips what a reader cannot see: leading
spaces (a no-break space too), control and format characters (a zero-width space, a bidi
override, a byte order mark) and line or paragraph separators. A look-alike counts as what it
looks like when NFKC folds it to it: the fullwidth, small, superscript and subscript forms of
the four (U+FF1D, U+FE66, U+207C...); and the minus sign U+2212, which NFKC keeps but a
spreadsheet may read as minus."""

from __future__ import annotations

import unicodedata
from typing import Final

#: OWASP's formula triggers.
FORMULA_TRIGGERS: Final = frozenset("=+-@\u2212")
#: Invisible at the start of a cell: the spreadsheet (or the reader) skips them.
_SKIPPED_CATEGORIES: Final = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me"})


def starts_like_formula(text: str) -> bool:
    """Whether a spreadsheet could run `text` as a formula."""
    if text[:1] in ("\t", "\r"):
        return True
    for char in text:
        if unicodedata.category(char) in _SKIPPED_CATEGORIES or char.isspace():
            continue
        folded = unicodedata.normalize("NFKC", char)
        return folded[:1] in FORMULA_TRIGGERS
    return False


def neutralise_cell(text: str) -> str:
    """`text` as a CSV cell that a spreadsheet shows as text, never runs."""
    return "'" + text if starts_like_formula(text) else text
