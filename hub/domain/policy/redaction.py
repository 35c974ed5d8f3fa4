"""What a recipient sees of a notification: the envelope with only the fields it was granted.

A field is an envelope path (`data.release.address`, `identifiers.pnc_id`); naming an object
grants all of it, and a path through a list (`data.schedule1_offences.victim_age_category`) grants
that field of each item. `id`, `type` and `specversion` are always kept: without them a recipient
could neither de-duplicate nor tell what it was sent.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from hub.domain.notifications import Notification
from hub.domain.schemas import dataschema_urn

ALWAYS_KEPT: Final = ("id", "type", "specversion")

#: A trie of granted paths: each key maps to its subtree, or to GRANTED when all of it is.
_Trie = dict[str, Any]
_GRANTED: Final = object()


def envelope(notification: Notification, *, copy_data: bool = True) -> dict[str, Any]:
    """The notification as CloudEvents structured-mode JSON (attributes and `data`). Without
    `copy_data`, `data` is the notification's own, for a reader that never changes it."""
    document: dict[str, Any] = {
        "specversion": notification.specversion,
        "id": notification.id,
        "source": notification.source,
        "type": notification.type,
        "time": notification.time.isoformat(),
        "datacontenttype": notification.datacontenttype,
        "dataschema": dataschema_urn(notification.type, notification.version),
        "identifiers": {i.scheme: i.value for i in notification.identifiers},
        "data": _copied(dict(notification.data)) if copy_data else notification.data,
    }
    if notification.subject is not None:
        document["subject"] = notification.subject
    return document


def _copied(value: Any) -> Any:
    """A deep copy of a JSON value (a notification's data: dicts, lists and scalars), made
    without `copy.deepcopy`'s memo and dispatch (several copies a webhook); anything else is
    deep-copied as before."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return value
    if kind is dict:
        return {key: _copied(item) for key, item in value.items()}
    if kind is list:
        return [_copied(item) for item in value]
    return copy.deepcopy(value)


def covers(granted: str, path: str) -> bool:
    """Whether granting `granted` grants `path` (the same path, or an object containing it)."""
    return path == granted or path.startswith(granted + ".")


def overlaps(granted: str, path: str) -> bool:
    """Whether granting `granted` discloses any of `path`."""
    return covers(granted, path) or covers(path, granted)


def _trie(fields: Iterable[str]) -> _Trie:
    root: _Trie = {}
    for field in fields:
        node = root
        segments = field.split(".")
        for segment in segments[:-1]:
            child = node.get(segment)
            if child is _GRANTED:
                break
            node = node.setdefault(segment, {})
        else:
            node[segments[-1]] = _GRANTED
    return root


def _keep(value: Any, trie: _Trie | object) -> Any:
    """The part of `value` that `trie` grants; None when it grants none of it."""
    if trie is _GRANTED:
        return _copied(value)
    assert isinstance(trie, dict)
    if isinstance(value, Mapping):
        kept = {}
        for key, sub in trie.items():
            if key in value:
                part = _keep(value[key], sub)
                if part is not None:
                    kept[key] = part
        return kept or None
    if isinstance(value, list):
        items = [part for item in value if (part := _keep(item, trie)) is not None]
        return items or None
    return None  # a scalar where the grant names fields inside it: nothing to give


def redact(document: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """`document` (an envelope) with only `fields` and the attributes always kept."""
    trie = _trie(fields)
    kept: dict[str, Any] = _keep(document, trie) or {}
    for key in ALWAYS_KEPT:
        if key in document:
            kept[key] = document[key]
    return {key: kept[key] for key in document if key in kept}


def withheld(document: Mapping[str, Any], fields: Sequence[str]) -> list[str]:
    """The paths present in `document` that `fields` do not grant, as coarse as possible: a
    whole object when nothing inside it is granted, its fields when some are."""
    trie = _trie(fields)
    found: list[str] = []

    def walk(value: Any, node: _Trie | object, prefix: str) -> None:
        if node is _GRANTED:
            return
        assert isinstance(node, dict)
        if isinstance(value, list):
            keys: dict[str, list[Any]] = {}
            for item in value:
                if isinstance(item, Mapping):
                    for key, sub in item.items():
                        keys.setdefault(key, []).append(sub)
                else:
                    found.append(prefix)  # a grant of fields inside items that have none
            for key in sorted(keys):
                path = f"{prefix}.{key}"
                if key not in node:
                    found.append(path)
                else:
                    for sub in keys[key]:
                        walk(sub, node[key], path)
            return
        if not isinstance(value, Mapping):
            found.append(prefix)
            return
        for key in value:
            path = f"{prefix}.{key}" if prefix else str(key)
            if not prefix and key in ALWAYS_KEPT:
                continue
            if key not in node:
                found.append(path)
            else:
                walk(value[key], node[key], path)

    walk(document, trie, "")
    return sorted(set(found))


def leaf_paths(document: Mapping[str, Any]) -> list[str]:
    """Every path to a scalar (or empty object/list) in `document`, lists flattened: what a
    recipient receives, in the terms fields are written in."""
    found: set[str] = set()

    def walk(value: Any, prefix: str) -> None:
        if isinstance(value, Mapping) and value:
            for key, sub in value.items():
                walk(sub, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(value, list) and value:
            for item in value:
                walk(item, prefix)
        else:
            found.add(prefix)

    walk(document, "")
    return sorted(found)
