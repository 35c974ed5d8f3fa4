"""How commands print data: text for a person at a terminal by default, JSON with `--json` for
scripts. One flag, one JSON style, one text style, for every command that prints data."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any


def add_json_flag(parser: argparse.ArgumentParser, what: str = "the result") -> None:
    """`--json`: print `what` as JSON instead of text."""
    parser.add_argument("--json", action="store_true", help=f"print {what} as JSON, for scripts")


def emit_json(document: Any) -> None:
    print(json.dumps(document, indent=2, ensure_ascii=False, default=str))


def emit_fields(document: Mapping[str, Any], indent: int = 0) -> None:
    """A document as indented `name: value` lines; lists of documents as numbered blocks."""
    sys.stdout.write("".join(_field_lines(document, indent)))


def emit_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Rows as a text table: a header, then one line a row, columns padded to fit."""
    cells = [[_scalar(row.get(column)) for column in columns] for row in rows]
    widths = [
        max([len(column), *(len(line[i]) for line in cells)]) for i, column in enumerate(columns)
    ]
    for line in [list(columns), *cells]:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _field_lines(document: Mapping[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    for name, value in document.items():
        if isinstance(value, Mapping):
            if not value:
                lines.append(f"{pad}{name}: -\n")
                continue
            lines.append(f"{pad}{name}:\n")
            lines += _field_lines(value, indent + 2)
        elif isinstance(value, list | tuple) and any(isinstance(v, Mapping) for v in value):
            lines.append(f"{pad}{name}: {len(value)}\n")
            for number, item in enumerate(value, 1):
                if isinstance(item, Mapping):
                    lines.append(f"{pad}  [{number}]\n")
                    lines += _field_lines(item, indent + 4)
                else:
                    lines.append(f"{pad}  [{number}] {_scalar(item)}\n")
        else:
            lines.append(f"{pad}{name}: {_scalar(value)}\n")
    return lines


def _scalar(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_scalar(v) for v in value) if value else "-"
    return str(value).replace("\n", " ")
