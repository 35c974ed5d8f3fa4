"""What every subcommand module shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.settings import Settings

Command = Callable[[argparse.Namespace, "Settings"], Coroutine[Any, Any, int]]
#: The object `add_subparsers()` returns, to which each module adds its commands.
Commands = Any
