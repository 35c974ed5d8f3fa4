"""Decoding a stored entry's canonical JSON as fast as the standard library can: verification
decodes every entry of the log (a million: bench/RESULTS.md)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["decode"]

_DECODER = json.JSONDecoder()
#: The C scanner the decoder runs after skipping leading whitespace: (value, end). (typeshed
#: does not declare the attribute the decoder sets on itself.)
_scan: Callable[[str, int], tuple[Any, int]] = vars(_DECODER)["scan_once"]


def decode(text: str) -> Any:
    """`json.loads(text)` (ValueError if it is not JSON), with the scanner alone when the text
    is one JSON value from its first character to its last, as a stored entry is; the whole
    decoder otherwise (leading and trailing whitespace, extra data, a BOM refused)."""
    try:
        document, end = _scan(text, 0)
    except StopIteration:
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return document
