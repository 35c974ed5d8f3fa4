"""The `hub` command: run the hub, migrate its database, register agency clients, and more.

Each group of subcommands lives in its own module with a `register(commands)` function. Those
modules import the hub's services inside their commands, not at the top, so that `hub --help`
and a usage error answer without loading the database drivers or the web framework.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

from hub.cli import (
    adapter_commands,
    audit,
    clients,
    database,
    deliveries,
    exits,
    imports,
    keys,
    persons,
    policy,
    retention,
    reviews,
    router,
    serve,
    settings_doc,
)

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
    adapter_commands,
    imports,
    keys,
    settings_doc,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `hub` command; its exit status (`hub.cli.exits`)."""
    try:
        code = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's shutdown
    except BrokenPipeError:
        # `hub … | head`: the reader has gone; stop quietly, as a command killed by SIGPIPE.
        _discard_stdout()
        return exits.BROKEN_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return exits.INTERRUPTED
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return exits.USAGE
    from hub.cli.running import run_command

    return run_command(args)


def _discard_stdout() -> None:
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), sys.stdout.fileno())


def _version() -> str:
    try:
        return version("public-protection-hub")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub",
        description="Public Protection Hub. Settings come from HUB_* environment variables "
        "(`hub settings doc` lists them). Commands that print data print text; give --json "
        "for JSON.",
        epilog=exits.SUMMARY,
    )
    parser.add_argument("--version", action="version", version=f"hub {_version()}")
    commands = parser.add_subparsers(title="commands")
    for group in GROUPS:
        group.register(commands)
    return parser
