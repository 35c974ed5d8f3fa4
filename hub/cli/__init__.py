"""The `hub` command: run the hub, migrate its database, register agency clients, and more.

Each group of subcommands lives in its own module with a `register(commands)` function.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from hub.cli import (
    adapter,
    audit,
    clients,
    database,
    deliveries,
    keys,
    persons,
    policy,
    retention,
    reviews,
    router,
    serve,
)
from hub.cli.common import Command
from hub.errors import HubError
from hub.settings import Settings

GROUPS = (
    serve,
    database,
    clients,
    persons,
    policy,
    router,
    deliveries,
    audit,
    retention,
    reviews,
    adapter,
    keys,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings()
        run: Command = args.run
        return asyncio.run(run(args, settings))
    except ValidationError as error:
        print(f"error: invalid settings:\n{error}", file=sys.stderr)
        return 2
    except HubError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub",
        description="Public Protection Hub. Settings come from HUB_* environment variables.",
    )
    commands = parser.add_subparsers(title="commands")
    for group in GROUPS:
        group.register(commands)
    return parser
