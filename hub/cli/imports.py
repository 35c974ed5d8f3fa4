"""`hub import FILE|DIR --as CLIENT_ID`: load an agency's history when it joins the hub.

    hub import history.ndjson --as sps-pr2                 (history: profiles, no disclosures)
    hub import exports/ --as sps-pr2 --route               (routed like pushed notifications)
    hub import history.ndjson --as sps-pr2 --dry-run       (checks everything, stores nothing)

Each line of a file is one notification, the envelope `POST /v1/notifications` takes (canonical
NDJSON; blank lines are skipped). A folder is read file by file in name order (its `*.ndjson`
and `*.jsonl` files; nothing below it). Progress is redrawn on stderr when it is a terminal; the
summary goes to stdout (with `--json`, as JSON). Exit status: 0 when every line is stored or was
already there; 1 when a chunk was refused (its every problem is named by file, line and field;
nothing of it was stored, nor anything after it); 2 for a file that cannot be read; 4 for an
unknown client, 5 for a client that may not publish.

The parsing and checking are the service's (`hub.services.bulk_import`); this module only reads
files and prints.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

from hub.cli import exits
from hub.cli.common import Commands
from hub.errors import HubError, InvalidInput

if TYPE_CHECKING:
    from hub.services.bulk_import import ImportLine, ImportSummary
    from hub.settings import Settings

#: The files of a folder that are read, by suffix.
SUFFIXES: Final = (".ndjson", ".jsonl")
#: Erase the line the progress drew (carriage return, then ANSI "erase to end of line").
_CLEAR: Final = "\r\x1b[K"


def register(commands: Commands) -> None:
    imports = commands.add_parser(
        "import",
        help="load an agency's history (canonical NDJSON) into the event store: profiles are "
        "built, nothing is disclosed unless --route",
    )
    imports.add_argument(
        "path", type=Path, help="an NDJSON file, or a folder of *.ndjson / *.jsonl files"
    )
    imports.add_argument(
        "--as",
        dest="client_id",
        required=True,
        metavar="CLIENT_ID",
        help="the registered client the agency publishes as (its sources must be the agency's)",
    )
    imports.add_argument(
        "--route",
        action="store_true",
        help="route the imported notifications like pushed ones (default: history, disclosed "
        "to no one)",
    )
    imports.add_argument(
        "--dry-run", action="store_true", help="check every line and count, store nothing"
    )
    imports.add_argument(
        "--chunk-size",
        type=int,
        default=None,
        help="lines per transaction (default 1000, at most 5000)",
    )
    imports.add_argument("--json", action="store_true", help="print the summary as JSON")
    imports.set_defaults(run=_import)


async def _import(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.services.bulk_import import DEFAULT_CHUNK_SIZE

    files = input_files(args.path)
    latest: list[ImportSummary] = []

    def progress(summary: ImportSummary) -> None:
        latest[:] = [summary]
        if sys.stderr.isatty():
            _progress(summary)

    try:
        async with bootstrap.running(settings) as container:
            service = container.bulk_import()
            publisher = await service.publisher(args.client_id)
            # What the hub built to run (schemas, policies, the engine, the modules) lives as
            # long as this command: kept out of the collector's passes, which otherwise walk it
            # again and again while every chunk's rows come and go (a sixth of an import's CPU).
            gc.freeze()
            summary = await service.run(
                read_lines(files),
                publisher,
                route=args.route,
                dry_run=args.dry_run,
                chunk_size=args.chunk_size or DEFAULT_CHUNK_SIZE,
                progress=progress,
            )
    except HubError:
        # The database failed midway (or a file could not be read): say what was committed
        # before the error (`hub.cli.running` prints the error itself).
        if latest:
            _print(latest[0], files, as_json=args.json)
        raise
    finally:
        if sys.stderr.isatty():
            sys.stderr.write(_CLEAR)
    _print(summary, files, as_json=args.json)
    return exits.OK if summary.complete else exits.FAILED


def _print(summary: ImportSummary, files: Sequence[Path], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary.as_dict()))
    else:
        for line in describe(summary, files):
            print(line)


def input_files(path: Path) -> list[Path]:
    """The files to read: `path` itself, or a folder's NDJSON files in name order."""
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        if not files:
            raise InvalidInput(f"{path} holds no {' or '.join(SUFFIXES)} file")
        return files
    if not path.is_file():
        raise InvalidInput(f"{path} is not a file or a folder that can be read")
    return [path]


def read_lines(files: Sequence[Path]) -> Iterator[ImportLine]:
    """Every non-blank line of `files`, in order, with its file and 1-based line number (bytes:
    the service decodes them, so that a line that is not UTF-8 is reported, not mangled)."""
    from hub.services.bulk_import import ImportLine

    for path in files:
        try:
            with path.open("rb") as lines:
                for number, text in enumerate(lines, start=1):
                    if text.strip():
                        yield ImportLine(str(path), number, text)
        except OSError as error:
            raise InvalidInput(f"cannot read {path}: {error.strerror}") from None


def describe(summary: ImportSummary, files: Sequence[Path]) -> list[str]:
    """The summary for a person: counts, then every problem by file:line."""
    what = "history (disclosed to no one)" if summary.history else "routed like pushes"
    verb = "would be stored" if summary.dry_run else "stored"
    lines = [
        f"{'dry run: ' if summary.dry_run else ''}{summary.lines} lines read from "
        f"{len(files)} file{'s' if len(files) != 1 else ''}; {summary.stored} {verb} as {what}, "
        f"{summary.already_there} already there, {summary.refused} refused"
    ]
    if summary.first_position is not None:
        lines.append(f"positions {summary.first_position}-{summary.last_position}")
    if summary.refused and not summary.dry_run:
        lines.append(
            "a chunk was refused: nothing of it, and nothing after it, was stored; correct the "
            "lines below and run the import again (what is stored already is not stored twice)"
        )
    lines.extend(str(problem) for problem in summary.problems)
    if summary.dry_run and summary.refused > len(summary.problems):
        lines.append(f"… and more: {summary.refused} lines have problems")
    return lines


def _progress(summary: ImportSummary) -> None:
    sys.stderr.write(
        f"{_CLEAR}importing… {summary.lines} lines, {summary.stored} stored, "
        f"{summary.already_there} already there"
    )
    sys.stderr.flush()
