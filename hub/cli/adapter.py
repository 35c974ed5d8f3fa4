"""`hub adapter <name> ingest|watch`: feed an agency system's own files to the hub.

    hub adapter pr2 ingest extract.psv [--dry-run] [--quarantine DIR] [--json]
    hub adapter visor ingest inbox/            (every file in the folder, by name)
    hub adapter socialwork watch dropbox/      (a drop folder, until SIGTERM or Ctrl-C)

Every record ends accepted (event id and position), duplicate or rejected (location, field,
reason); a summary is printed (with `--json`, on stderr, and the report as JSON on stdout).
Rejected records are written to a quarantine file with their original bytes, and a `.json`
sidecar with the reasons (default folder: `quarantine/` beside the input; the folder is made
0700 and its files 0600, for they hold personal data). Exit status: 0 when
every record was accepted or a duplicate, 1 when any was rejected, 3 when the database failed
midway (the report says which records were stored; ingesting again is safe).

Only regular files with a single name are read: a symbolic link, a hard link (a second name
for a file elsewhere, such as one of the hub's own keys), a pipe or a device in the input is
refused unread, with the reason in the report, and none of its bytes is ever copied to the
quarantine. The checks are made on the opened file (`O_NOFOLLOW`, then `fstat`), so swapping
the name for a link between a look and the read does not get past them.

Records are published as the agency their source belongs to (`hub.services.ingest`), by the
client `adapter:<name>`. The parsing is the adapter's (`hub.adapters`), the accounting the
ingest service's; this module only reads, moves and writes files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import stat
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from hub import bootstrap
from hub.adapters import ADAPTERS, MAX_FILE_BYTES, Adapter, AdapterRecord, RecordProblem
from hub.adapters.base import rejected
from hub.cli.progress import working
from hub.services.ingest import IngestReport, IngestService
from hub.settings import Settings

logger = logging.getLogger("hub.adapter")

EXIT_OK: Final = 0
EXIT_REJECTED: Final = 1
EXIT_INCOMPLETE: Final = 3

#: Names a sender uses while it is still writing a file (rename it when complete).
_IN_PROGRESS_SUFFIXES: Final = (".part", ".tmp", ".partial")
DONE: Final = "done"
FAILED: Final = "failed"
QUARANTINE: Final = "quarantine"


# -- ingest ------------------------------------------------------------------------------------


@dataclass
class FileReport:
    path: Path
    report: IngestReport
    #: The bytes that were read and parsed; None when the file was refused unread.
    data: bytes | None = None
    quarantined: Path | None = None

    def as_dict(self) -> dict[str, Any]:
        document = {"file": str(self.path), **self.report.as_dict()}
        document["quarantine"] = None if self.quarantined is None else str(self.quarantined)
        return document


async def ingest(args: argparse.Namespace, settings: Settings) -> int:
    """`hub adapter NAME ingest PATH` (`hub.cli.adapter_commands` parses it)."""
    adapter: Adapter = ADAPTERS[args.adapter_name]
    path: Path = args.path
    found = await asyncio.to_thread(_inputs, path)
    if found is None:
        print(f"error: {path} is neither a file nor a folder", file=sys.stderr)
        return 2
    files, beside = found
    quarantine = args.quarantine or beside / QUARANTINE
    reports: list[FileReport] = []
    async with bootstrap.running(settings) as container:
        service = _service(container)
        for number, file in enumerate(files, 1):
            with working(f"ingesting {file.name} ({number} of {len(files)})"):
                done = await ingest_file(service, adapter, file, dry_run=args.dry_run)
            if not args.dry_run:
                done.quarantined = write_quarantine(quarantine, file, done)
            done.data = None  # the report is kept for the summary; the bytes need not be
            reports.append(done)
            out = sys.stderr if args.json else sys.stdout
            print(_summary_line(done), file=out)
            if not done.report.complete:
                break  # the database is down: the other files would fail the same way
    if args.json:
        print(json.dumps(_report_document(adapter, reports), indent=2, ensure_ascii=False))
    return _exit_status(reports)


def _inputs(path: Path) -> tuple[list[Path], Path] | None:
    """The files to ingest, and the folder the quarantine goes in by default. A name that is
    not a folder is taken as a file whatever it is (a link, a pipe): reading refuses those."""
    if path.is_dir():
        return _files_in(path), path
    if os.path.lexists(path):
        return [path], path.parent
    return None


@dataclass(frozen=True, slots=True)
class _Read:
    """A file's content, or why it was not read."""

    data: bytes | None
    refusal: str | None = None


#: Not following a link, and not waiting for a writer on a pipe; closed on exec.
_OPEN_FLAGS: Final = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def _read(path: Path) -> _Read:
    """The content of `path` if it is a regular file with one name and within the size limit;
    otherwise why not, with nothing read. Every check is made on the opened descriptor, so the
    name cannot be swapped for a link between the check and the read."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        if os.path.islink(path):
            return _Read(
                None,
                "refused unread: it is a symbolic link; only regular files are taken (a link "
                "could point at any file the hub can read, such as its keys)",
            )
        return _Read(None, f"refused unread: it cannot be opened ({error.strerror})")
    try:
        status = os.fstat(fd)
        if not stat.S_ISREG(status.st_mode):
            return _Read(
                None,
                "refused unread: it is not a regular file (a pipe, socket or device); only "
                "regular files are taken",
            )
        if status.st_nlink > 1:
            return _Read(
                None,
                f"refused unread: it is a hard link (the file has {status.st_nlink} names); only "
                "files with a single name are taken (another name could be any file the hub "
                "can read, such as its keys): copy the file in instead of linking it",
            )
        if status.st_size > MAX_FILE_BYTES:
            return _Read(
                None,
                f"the file is {status.st_size} bytes, over the limit of {MAX_FILE_BYTES}; split "
                "it and send the parts",
            )
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as file:
            fd = -1
            # One byte past the limit: a file that grew since fstat is refused, not cut short.
            data = file.read(MAX_FILE_BYTES + 1)
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        return _Read(None, f"the file grew past the limit of {MAX_FILE_BYTES} bytes while read")
    return _Read(data)


def _service(container: bootstrap.Container) -> IngestService:
    return IngestService(
        container.intake,
        container.store,
        container.schemas,
        container.policy.directory,
        batch_size=min(container.settings.max_batch_size, 200),
    )


async def ingest_file(
    service: IngestService, adapter: Adapter, path: Path, *, dry_run: bool
) -> FileReport:
    """Read `path` (refusing, unread, a link, a file that is not regular, or one over the size
    limit) and ingest it."""
    read = await asyncio.to_thread(_read, path)
    if read.data is None:
        assert read.refusal is not None
        problem = RecordProblem("", read.refusal)
        records: list[AdapterRecord] = [rejected("file", b"", [problem])]
        report = await service.ingest_records(adapter.name, records, dry_run=dry_run)
    else:
        report = await service.ingest(adapter, read.data, dry_run=dry_run)
    return FileReport(path, report, read.data)


def write_quarantine(folder: Path, source: Path, done: FileReport) -> Path | None:
    """The rejected records' original bytes in one file, and a `.json` sidecar saying where
    each is in it and why it was rejected. When every record was rejected the file is copied
    whole (header and trailer included), from the bytes that were read: the name is not read
    again. None when nothing was rejected, or the file was refused unread (a link, a file that
    is not regular, one too large: there are no bytes to keep, and the report says why).

    The folder is made 0700 and both files 0600: rejected records hold personal data."""
    report = done.report
    rejected_records = report.rejected
    if not rejected_records or done.data is None:
        return None
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"{source.stem}.rejected-{stamp}{source.suffix}"
    whole = len(rejected_records) == len(report.records)
    entries: list[dict[str, Any]] = []
    if whole:
        content = done.data
        for record in rejected_records:
            entries.append(record.as_dict())
    else:
        chunks: list[bytes] = []
        offset = 0
        for record in rejected_records:
            original = record.original
            if not original.endswith(b"\n"):
                original += b"\n"
            entry = record.as_dict()
            entry["offset"], entry["length"] = offset, len(record.original)
            entries.append(entry)
            chunks.append(original)
            offset += len(original)
        content = b"".join(chunks)
    _write_private(target, content)
    sidecar = {
        "source_file": str(source),
        "adapter": report.adapter,
        "quarantined_at": datetime.now(UTC).isoformat(),
        "whole_file": whole,
        "note": (
            "the whole input file, every record of which was rejected"
            if whole
            else "the rejected records' original bytes, one after another (a newline added "
            "after any that lacked one); offset and length locate each"
        ),
        "records": entries,
    }
    _write_private(
        target.with_name(target.name + ".json"),
        (json.dumps(sidecar, indent=2, ensure_ascii=False) + "\n").encode("utf-8"),
    )
    return target


def _write_private(path: Path, content: bytes) -> None:
    """A new file only the hub's user can read (never through a link planted at its name)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(content)


def _files_in(folder: Path) -> list[Path]:
    """The folder's complete, visible entries other than folders, by name (sub-folders are not
    entered). Links, pipes and the like are listed so that reading refuses them with a reason
    rather than leaving them unexplained."""
    with os.scandir(folder) as entries:
        return sorted(
            Path(entry.path)
            for entry in entries
            if not entry.is_dir(follow_symlinks=False)
            and not entry.name.startswith(".")
            and not entry.name.endswith(_IN_PROGRESS_SUFFIXES)
        )


def _summary_line(done: FileReport) -> str:
    line = f"{done.path}: {done.report.summary()}"
    for record in done.report.rejected:
        for problem in record.problems:
            where = f"{record.location} {problem.field}".strip() or "file"
            line += f"\n  rejected {where}: {problem.reason}"
    if done.quarantined is not None:
        line += f"\n  rejected records quarantined in {done.quarantined}"
    return line


def _report_document(adapter: Adapter, reports: list[FileReport]) -> dict[str, Any]:
    totals = {"accepted": 0, "duplicate": 0, "rejected": 0}
    for done in reports:
        for outcome, count in done.report.counts().items():
            totals[outcome] += count
    return {
        "adapter": adapter.name,
        "complete": all(r.report.complete for r in reports),
        "totals": totals,
        "files": [r.as_dict() for r in reports],
    }


def _exit_status(reports: list[FileReport]) -> int:
    if not all(r.report.complete for r in reports):
        return EXIT_INCOMPLETE
    if any(r.report.rejected for r in reports):
        return EXIT_REJECTED
    return EXIT_OK


# -- watch -------------------------------------------------------------------------------------


async def watch(args: argparse.Namespace, settings: Settings) -> int:
    """`hub adapter NAME watch FOLDER` (`hub.cli.adapter_commands` parses it)."""
    adapter: Adapter = ADAPTERS[args.adapter_name]
    folder: Path = args.folder
    if not await asyncio.to_thread(folder.is_dir):
        print(f"error: {folder} is not a folder", file=sys.stderr)
        return 2
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(signum, stop.set)
    async with bootstrap.running(settings) as container:
        watcher = DropFolder(
            _service(container), adapter, folder, args.quarantine or folder / QUARANTINE
        )
        logger.info("watching %s for %s files", folder, adapter.name)
        await watcher.run(stop, interval=args.interval)
    print(f"stopped watching {folder}: {watcher.ingested} files ingested")
    return EXIT_OK


class DropFolder:
    """A folder agencies drop files into. A file is taken once its size and modification time
    have not changed between two looks (or it was renamed in complete: names ending `.part`,
    `.tmp` or `.partial`, and hidden ones, are left alone). Each is ingested, then moved to
    `done/` (every record accepted or a duplicate) or `failed/` (any record rejected), with its
    report beside it (`<name>.report.json`). If the database fails midway the file stays where
    it is and is tried again at the next look (what was stored comes back as duplicates)."""

    def __init__(
        self, service: IngestService, adapter: Adapter, folder: Path, quarantine: Path
    ) -> None:
        self._service = service
        self._adapter = adapter
        self._folder = folder
        self._quarantine = quarantine
        self._seen: dict[Path, tuple[int, int]] = {}
        self.ingested = 0

    async def run(self, stop: asyncio.Event, *, interval: float) -> None:
        """Look, ingest what is ready, wait; until `stop` (the file in hand is finished)."""
        for name in (DONE, FAILED):
            (self._folder / name).mkdir(exist_ok=True)
        while not stop.is_set():
            await self.look(stop)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)

    async def look(self, stop: asyncio.Event | None = None) -> int:
        """Ingest every file that is ready now; how many were."""
        handled = 0
        seen: dict[Path, tuple[int, int]] = {}
        for path in _files_in(self._folder):
            if stop is not None and stop.is_set():
                break
            try:
                status = path.lstat()  # a link's own times: its target is never looked at
            except FileNotFoundError:
                continue
            signature = (status.st_size, status.st_mtime_ns)
            if self._seen.get(path) != signature:
                seen[path] = signature  # new or still growing: take it at the next look
                continue
            if await self._take(path):
                handled += 1
            else:
                seen[path] = signature
        self._seen = seen
        return handled

    async def _take(self, path: Path) -> bool:
        """Ingest one file and move it away; False if it stays (the database failed)."""
        done = await ingest_file(self._service, self._adapter, path, dry_run=False)
        report = done.report
        if not report.complete:
            logger.warning("%s: %s; it will be tried again", path.name, report.summary())
            return False
        done.quarantined = write_quarantine(self._quarantine, path, done)
        target_folder = self._folder / (FAILED if report.rejected else DONE)
        target = _free_name(target_folder / path.name)
        os.replace(path, target)
        document = done.as_dict()
        document["file"] = str(target)
        document["received_as"] = str(path)
        target.with_name(target.name + ".report.json").write_text(
            json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        self.ingested += 1
        logger.info("%s -> %s: %s", path.name, target_folder.name, report.summary())
        return True


def _free_name(path: Path) -> Path:
    """`path`, or if it exists, the same name with a time stamp before the suffix."""
    if not path.exists():
        return path
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return path.with_name(f"{path.stem}.{stamp}{path.suffix}")
