"""The event schemas and the policy bundle a process runs on, validated once per content.

Validating them is most of what starting the hub costs (about 1.5 s: every schema checked against
its metaschema, every rule parsed, checked and compiled to Cedar), and a process may build its
container many times (the CLI once, a test suite hundreds of times, an embedded host on each
restart). Both are immutable once loaded, so a process keeps the last few it validated, keyed by
the SHA-256 of every file read: the same bytes give the same objects without validating again,
and any changed, added or removed file gives a fresh load (with its problems, if it has any).
Only successful loads are kept.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from hub.domain.policy.engine import PolicyBundle, read_bundle_files
from hub.domain.schemas import SchemaRegistry

#: How many distinct (events, bundle) contents a process keeps: a test suite uses a handful.
_KEEP = 8

_loaded: OrderedDict[tuple[str, str, str], tuple[SchemaRegistry, PolicyBundle]] = OrderedDict()
_lock = threading.Lock()


def load_contract(events_dir: Path, bundle_dir: Path) -> tuple[SchemaRegistry, PolicyBundle]:
    """The schemas in `events_dir` and the bundle in `bundle_dir`, validated (raises what
    `SchemaRegistry.load` and `PolicyBundle.load` raise), shared with any earlier load of the
    same files by this process."""
    files = read_bundle_files(bundle_dir)
    key = (str(events_dir), str(bundle_dir), _digest(events_dir, files))
    with _lock:
        if key in _loaded:
            _loaded.move_to_end(key)
            return _loaded[key]
    schemas = SchemaRegistry.load(events_dir)
    policy = PolicyBundle.from_files(files, schemas, origin=str(bundle_dir))
    with _lock:
        _loaded[key] = (schemas, policy)
        while len(_loaded) > _KEEP:
            _loaded.popitem(last=False)
    return schemas, policy


def _digest(events_dir: Path, bundle: dict[str, bytes]) -> str:
    """SHA-256 over every file either load reads (a missing folder digests as empty: the load
    itself then says what is wrong)."""
    digest = hashlib.sha256()
    events = sorted(events_dir.glob("*.schema.json")) if events_dir.is_dir() else []
    for path in events:
        digest.update(b"events/" + path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    for name in sorted(bundle):
        digest.update(b"bundle/" + name.encode() + b"\0" + bundle[name] + b"\0")
    return digest.hexdigest()
