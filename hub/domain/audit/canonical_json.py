"""Canonical JSON (sorted keys, no whitespace, `ensure_ascii=False`) made from pieces, each
encoded once: what `json.JSONEncoder(sort_keys=True, separators=(",", ":"),
ensure_ascii=False)` writes, byte for byte, without encoding a value again each time an entry
holds it. The router logs ~4 entries an event that share their texts and name lists, and each
entry's `details` is encoded anyway to check its size: the entry's bytes reuse that text.
"""

from __future__ import annotations

import functools
import json
import operator
import re
from collections.abc import Callable, Iterator, Mapping

__all__ = ["ENCODER", "TextMap", "encode_names", "encode_text", "text_object"]

#: The encoder every canonical text is defined by (a frozen value's read-only mappings are
#: serialised as the dicts they hold; tuples are arrays already).
ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=dict
)
#: A string as `ENCODER` writes it (the C function the encoder itself calls).
encode_text: Callable[[str], str] = json.encoder.encode_basestring

#: Keys a `TextMap` holds: the short names of `details` keys (no character JSON escapes).
_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
#: Texts that `encode_text` writes as they are, between quotes.
_VERBATIM = re.compile(r'[^"\\\x00-\x1f\ud800-\udfff]*')


@functools.lru_cache(maxsize=4096)
def encode_names(names: tuple[str, ...]) -> str:
    """A tuple of names (an entry's `fields` or `rules`) as a JSON array, remembered: the
    entries of a batch repeat their rules' lists."""
    return ENCODER.encode(names)


_Layout = tuple[tuple[str, ...], Callable[[Mapping[str, str]], tuple[str, ...]], str]


@functools.lru_cache(maxsize=256)
def _layout(keys: tuple[str, ...]) -> _Layout | None:
    """For a mapping with these keys (in its own order): the keys sorted, what takes their
    values in that order, and `{"k1":"%s","k2":"%s"…}`; None unless every key is a short name
    (more than one: `itemgetter` of one key gives no tuple)."""
    if len(keys) < 2 or not all(type(key) is str and _KEY.fullmatch(key) for key in keys):
        return None
    ordered = tuple(sorted(keys))
    template = "{" + ",".join(f'"{key}":"%s"' for key in ordered) + "}"
    return ordered, operator.itemgetter(*ordered), template


def text_object(items: Mapping[str, str]) -> str:
    """`ENCODER.encode(items)`, for a mapping of texts (column digests) as a router batch writes
    many with the same keys: written from a template of its keys."""
    layout = _layout(tuple(items))
    if layout is not None:
        values = layout[1](items)
        if set(map(type, values)) == {str} and _VERBATIM.fullmatch("".join(values)):
            return layout[2] % values
    return ENCODER.encode(items)


class TextMap(Mapping[str, str]):
    """A read-only mapping of short names to texts (an entry's column digests), checked and
    encoded when it is made: an entry's `details` takes it as it is, and its canonical JSON is
    `json_text`. Refuses (ValueError) a key that is not a short name or a value that is not a
    text UTF-8 can hold."""

    __slots__ = ("_items", "json_text")

    def __init__(self, items: Mapping[str, str]) -> None:
        layout = _layout(tuple(items))
        if layout is None and not all(type(key) is str for key in items):
            # Keys of a str subclass (SQLAlchemy's column names): as the plain texts they are.
            if not all(isinstance(key, str) for key in items):
                raise ValueError("a TextMap maps short names to texts")
            items = {str.__str__(key): value for key, value in items.items()}
            layout = _layout(tuple(items))
        if layout is None:
            keys = tuple(sorted(items))
            if not all(type(key) is str and _KEY.fullmatch(key) for key in keys):
                raise ValueError("a TextMap maps short names to texts")
            values = tuple(items[key] for key in keys)
        else:
            keys = layout[0]
            values = layout[1](items)
        if set(map(type, values)) - {str}:
            raise ValueError("a TextMap maps short names to texts")
        joined = "".join(values)
        if not joined.isascii():
            joined.encode("utf-8")  # a lone surrogate raises (UnicodeEncodeError, a ValueError)
        self._items = dict(zip(keys, values, strict=True))
        if layout is not None and _VERBATIM.fullmatch(joined):
            self.json_text: str = layout[2] % values
        else:
            self.json_text = ENCODER.encode(self._items)

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"TextMap({self._items!r})"
