"""Agency adapters: each agency system's own formats to canonical notifications and back.

`ADAPTERS` names every adapter; `adapter(name)` finds one. Adapters are pure functions of bytes
(`hub.adapters.base`): the runners that read files, watch folders and append to the store live
with the CLI and the services.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from hub.adapters import pr2, socialwork, visor
from hub.adapters.base import (
    MAX_FILE_BYTES,
    MAX_RECORD_BYTES,
    Adapter,
    AdapterRecord,
    CannotRender,
    RecordProblem,
)
from hub.errors import InvalidInput

ADAPTERS: Final[Mapping[str, Adapter]] = {
    a.name: a for a in (pr2.ADAPTER, visor.ADAPTER, socialwork.ADAPTER)
}


def adapter(name: str) -> Adapter:
    """The adapter called `name`; InvalidInput naming the known ones otherwise."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise InvalidInput(
            f"no adapter called {name!r}; known adapters: {', '.join(sorted(ADAPTERS))}"
        ) from None


__all__ = [
    "ADAPTERS",
    "MAX_FILE_BYTES",
    "MAX_RECORD_BYTES",
    "Adapter",
    "AdapterRecord",
    "CannotRender",
    "RecordProblem",
    "adapter",
]
