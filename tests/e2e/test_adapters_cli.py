"""`hub adapter <name> ingest|watch` end to end, as an agency's operator would run them against
a running hub (`hub serve`), on both backends: every shipped sample ingests as its expected
outcome says; bad samples are rejected with actionable reasons and quarantined with their
original bytes; ingesting again gives duplicates; a file of rejected records only, and a dry
run, leave the store unchanged; the drop folder takes files in and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from hub.infra.db import create_engine
from hub.settings import Settings
from tests.e2e.conftest import HUB, HubProcess

pytestmark = pytest.mark.slow

SAMPLES = Path(__file__).resolve().parents[2] / "adapters"
ADAPTER_NAMES = ("pr2", "visor", "socialwork")


def expected(name: str) -> dict[str, list[dict[str, Any]]]:
    loaded: dict[str, list[dict[str, Any]]] = json.loads(
        (SAMPLES / name / "samples" / "expected.json").read_text(encoding="utf-8")
    )
    return loaded


def samples(name: str, *, good: bool) -> list[str]:
    """The sample files every record of which parses (`good`), or is rejected."""
    wanted = {"parsed"} if good else {"rejected"}
    return sorted(f for f, rs in expected(name).items() if {r["outcome"] for r in rs} == wanted)


def copy_samples(name: str, files: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for file in files:
        shutil.copyfile(SAMPLES / name / "samples" / file, folder / file)
    return folder


def ingest(hub: HubProcess, name: str, *args: str | Path) -> tuple[int, dict[str, Any], str]:
    """Run `hub adapter <name> ingest … --json`: exit status, report, summary (stderr)."""
    done = subprocess.run(
        [*HUB, "adapter", name, "ingest", *map(str, args), "--json"],
        env=hub.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.stdout, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report, done.stderr


def _settings(hub: HubProcess) -> Settings:
    url = hub.env.get("HUB_DATABASE_URL")
    return Settings(
        environment="test",
        data_dir=Path(hub.env["HUB_DATA_DIR"]),
        database_url=SecretStr(url) if url else None,
        database_schema=hub.env.get("HUB_DATABASE_SCHEMA"),
    )


def store_snapshot(hub: HubProcess) -> tuple[Any, ...]:
    """Events, people and identifiers: what a rejected file must leave unchanged."""

    async def run() -> tuple[Any, ...]:
        engine = create_engine(_settings(hub))
        try:
            async with engine.connect() as connection:
                found = []
                for query in (
                    "SELECT position, source, event_id, publisher_agency FROM events",
                    "SELECT person_id FROM persons",
                    "SELECT scheme, value FROM person_identifiers",
                ):
                    found.append(sorted((await connection.execute(sa.text(query))).all()))
                return tuple(found)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@pytest.fixture
def running(hub_process: HubProcess) -> HubProcess:
    hub_process.start()
    return hub_process


def test_every_adapter_ingests_its_samples_into_a_running_hub_then_finds_duplicates(
    running: HubProcess, tmp_path: Path
) -> None:
    hub = running
    # The agency each adapter's records are published as can read them back from the hub.
    readers = {
        "pr2": hub.token(hub.register("sps", "events:read")),
        "visor": hub.token(hub.register("police-scotland", "events:read")),
        "socialwork": hub.token(hub.register("sw-glasgow-city", "events:read")),
    }
    for name in ADAPTER_NAMES:
        folder = copy_samples(name, samples(name, good=True), tmp_path / name)
        status, report, summary = ingest(hub, name, folder)
        assert status == 0, summary
        assert report["complete"] is True
        assert report["totals"]["rejected"] == 0
        assert report["totals"]["accepted"] >= 1
        for file in report["files"]:
            assert file["quarantine"] is None
            for record in file["records"]:
                assert record["outcome"] in ("accepted", "duplicate")
                assert record["event"]["id"]
                assert record["position"] >= 1
        assert f"{folder}" in summary
        assert "0 rejected" in summary

        # The running hub serves what was ingested, as the publishing agency's.
        first = next(
            r
            for f in report["files"]
            for r in f["records"]
            if r["agency"] in ("sps", "police-scotland", "sw-glasgow-city")
        )
        answer = httpx.get(
            f"{hub.url}/v1/events/{first['event']['id']}",
            headers={"Authorization": f"Bearer {readers[name]}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["position"] == first["position"]

        status, again, summary = ingest(hub, name, folder)
        assert status == 0, summary
        assert again["totals"] == {
            "accepted": 0,
            "duplicate": sum(report["totals"].values()),
            "rejected": 0,
        }
        positions = [r["position"] for f in report["files"] for r in f["records"]]
        assert [r["position"] for f in again["files"] for r in f["records"]] == positions

    agencies = {row[3] for row in store_snapshot(hub)[0]}
    assert agencies == {
        "sps",
        "police-scotland",
        "sw-glasgow-city",
        "sw-city-of-edinburgh",
        "sw-dundee-city",
        # The social work samples transfer a supervision from Glasgow to Renfrewshire.
        "sw-renfrewshire",
    }


@pytest.mark.parametrize("name", ADAPTER_NAMES)
def test_bad_samples_are_rejected_with_reasons_quarantined_and_change_nothing(
    running: HubProcess, tmp_path: Path, name: str
) -> None:
    hub = running
    bad = samples(name, good=False)
    assert bad
    folder = copy_samples(name, bad, tmp_path / "in")
    before = store_snapshot(hub)
    status, report, summary = ingest(hub, name, folder, "--quarantine", tmp_path / "q")
    assert status == 1
    assert report["totals"]["accepted"] == report["totals"]["duplicate"] == 0
    assert store_snapshot(hub) == before

    wanted = expected(name)
    for file in report["files"]:
        sample = Path(file["file"]).name
        records = file["records"]
        assert [r["outcome"] for r in records] == ["rejected"] * len(wanted[sample]), sample
        for record, want in zip(records, wanted[sample], strict=True):
            assert record["location"] or record["location"] == ""
            first = record["problems"][0]
            assert first["reason"]
            # Actionable: it names the native field (or the whole record) and says what is wrong.
            (want_problem, *_) = want["problems"]
            fields = [p["field"] for p in record["problems"]]
            assert want_problem["field"] in fields, (sample, record)
            reasons = " ".join(p["reason"] for p in record["problems"])
            assert want_problem["reason_contains"] in reasons, (sample, record)
            assert f"rejected {record['location']}".strip() in summary

        # Quarantined: the original bytes (here the whole file), and the reasons beside them.
        quarantined = Path(file["quarantine"])
        assert quarantined.read_bytes() == (folder / sample).read_bytes()
        sidecar = json.loads(quarantined.with_name(quarantined.name + ".json").read_text())
        assert sidecar["whole_file"] is True
        assert sidecar["records"] == records


def test_a_mixed_file_stores_only_its_good_records_and_quarantines_the_others(
    running: HubProcess, tmp_path: Path
) -> None:
    hub = running
    sample = "bad-injection.psv"
    source = copy_samples("pr2", [sample], tmp_path / "in") / sample
    status, report, _ = ingest(hub, "pr2", source)
    assert status == 1
    (file,) = report["files"]
    outcomes = [r["outcome"] for r in file["records"]]
    assert outcomes == [
        "accepted" if w["outcome"] == "parsed" else "rejected" for w in expected("pr2")[sample]
    ]
    assert len(store_snapshot(hub)[0]) == outcomes.count("accepted")

    quarantined = Path(file["quarantine"])
    assert quarantined.parent == source.parent / "quarantine"
    sidecar = json.loads(quarantined.with_name(quarantined.name + ".json").read_text())
    assert sidecar["whole_file"] is False
    content = quarantined.read_bytes()
    lines = source.read_bytes().split(b"\n")
    for entry in sidecar["records"]:
        original = content[entry["offset"] : entry["offset"] + entry["length"]]
        line = int(entry["location"].split()[1])
        assert original == lines[line - 1]


def test_a_dry_run_changes_nothing(running: HubProcess, tmp_path: Path) -> None:
    hub = running
    folder = copy_samples("pr2", samples("pr2", good=True), tmp_path / "in")
    before = store_snapshot(hub)
    status, report, summary = ingest(hub, "pr2", folder, "--dry-run")
    assert status == 0, summary
    assert all(f["dry_run"] for f in report["files"])
    assert report["totals"]["accepted"] >= 1
    assert "nothing was stored" in summary
    assert store_snapshot(hub) == before
    assert not (folder / "quarantine").exists()

    bad = copy_samples("pr2", ["bad-date.psv"], tmp_path / "bad")
    status, report, _ = ingest(hub, "pr2", bad, "--dry-run")
    assert status == 1
    assert store_snapshot(hub) == before
    assert not (bad / "quarantine").exists()


def test_the_drop_folder_takes_files_in_and_stops_cleanly_on_sigterm(
    running: HubProcess, tmp_path: Path
) -> None:
    hub = running
    drop = tmp_path / "drop"
    drop.mkdir()
    watcher = subprocess.Popen(
        [*HUB, "adapter", "visor", "watch", str(drop), "--interval", "0.1"],
        env=hub.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Written under a temporary name, then renamed: the watcher takes only complete files.
        for name in ("nominal-registration.xml", "bad-date.xml"):
            partial = drop / f"{name}.part"
            shutil.copyfile(SAMPLES / "visor" / "samples" / name, partial)
            partial.rename(drop / name)
        done = drop / "done" / "nominal-registration.xml"
        failed = drop / "failed" / "bad-date.xml"
        deadline = time.monotonic() + 60
        while not (done.with_name(done.name + ".report.json").exists() and failed.exists()):
            assert watcher.poll() is None, watcher.communicate()
            assert time.monotonic() < deadline, "the watcher did not take the files in"
            time.sleep(0.1)
        deadline = time.monotonic() + 10
        while not failed.with_name(failed.name + ".report.json").exists():
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert "stopped watching" in out
    assert not (drop / "nominal-registration.xml").exists()

    accepted = json.loads(done.with_name(done.name + ".report.json").read_text())
    assert accepted["counts"] == {"accepted": 1, "duplicate": 0, "rejected": 0}
    refused = json.loads(failed.with_name(failed.name + ".report.json").read_text())
    assert refused["counts"]["rejected"] == 1
    assert refused["records"][0]["problems"][0]["reason"]
    assert Path(refused["quarantine"]).parent == drop / "quarantine"
    assert len(store_snapshot(hub)[0]) == 1


def _key_files(hub: HubProcess) -> list[Path]:
    """The keys `hub serve` generated in development: what a link in a drop folder would leak."""
    keys = Path(hub.env["HUB_DATA_DIR"]) / "keys"
    found = [keys / "data-kek.key", keys / "token-signing.pem"]
    assert all(k.is_file() and k.stat().st_size > 0 for k in found), list(keys.iterdir())
    return found


def _assert_no_key_bytes_under(folder: Path, keys: list[Path]) -> None:
    secrets = [k.read_bytes().strip() for k in keys]
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink() and os.stat(path).st_nlink == 1:
            content = path.read_bytes()
            for secret in secrets:
                assert secret not in content, f"{path} holds a key's bytes"


def _assert_private(quarantine: Path) -> None:
    """The quarantine holds personal data: only the hub's user may read it."""
    assert stat.S_IMODE(quarantine.stat().st_mode) == 0o700
    files = list(quarantine.iterdir())
    assert files
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_links_and_special_files_are_refused_unread_and_never_quarantined(
    running: HubProcess, tmp_path: Path
) -> None:
    hub = running
    kek, signing = _key_files(hub)
    drop = tmp_path / "in"
    drop.mkdir()
    (drop / "extract-kek.psv").symlink_to(kek)
    os.link(signing, drop / "extract-signing.psv")
    os.mkfifo(drop / "extract-pipe.psv")
    shutil.copyfile(SAMPLES / "pr2" / "samples" / "bad-date.psv", drop / "bad-date.psv")
    before = store_snapshot(hub)

    status, report, summary = ingest(hub, "pr2", drop)

    assert status == 1, summary
    assert store_snapshot(hub) == before
    files = {Path(f["file"]).name: f for f in report["files"]}
    for name, why in (
        ("extract-kek.psv", "symbolic link"),
        ("extract-signing.psv", "hard link"),
        ("extract-pipe.psv", "not a regular file"),
    ):
        refused = files[name]
        assert refused["quarantine"] is None, name
        (record,) = refused["records"]
        assert record["outcome"] == "rejected"
        assert why in record["problems"][0]["reason"], record
        assert f"{drop / name}" in summary
        assert why in summary
    # The ordinary bad file is still quarantined, privately.
    assert files["bad-date.psv"]["quarantine"] is not None
    _assert_no_key_bytes_under(drop / "quarantine", [kek, signing])
    _assert_private(drop / "quarantine")

    # Named on its own, a link is refused the same way.
    status, report, summary = ingest(hub, "pr2", drop / "extract-kek.psv")
    assert status == 1
    assert "symbolic link" in report["files"][0]["records"][0]["problems"][0]["reason"]
    _assert_no_key_bytes_under(drop / "quarantine", [kek, signing])


def test_the_drop_folder_refuses_links_moving_them_to_failed_with_the_reason(
    running: HubProcess, tmp_path: Path
) -> None:
    hub = running
    kek, signing = _key_files(hub)
    drop = tmp_path / "drop"
    drop.mkdir()
    watcher = subprocess.Popen(
        [*HUB, "adapter", "pr2", "watch", str(drop), "--interval", "0.1"],
        env=hub.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        (drop / "kek.psv").symlink_to(kek)
        os.link(signing, drop / "signing.psv")
        shutil.copyfile(SAMPLES / "pr2" / "samples" / "bad-date.psv", drop / "bad-date.psv")
        reports = [drop / "failed" / f"{n}.report.json" for n in ("kek.psv", "signing.psv")]
        reports.append(drop / "failed" / "bad-date.psv.report.json")
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in reports):
            assert watcher.poll() is None, watcher.communicate()
            assert time.monotonic() < deadline, "the watcher did not take the files in"
            time.sleep(0.1)
    finally:
        watcher.send_signal(signal.SIGTERM)
        _, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    for report_file, why in zip(reports[:2], ("symbolic link", "hard link"), strict=True):
        refused = json.loads(report_file.read_text())
        assert refused["quarantine"] is None
        assert refused["counts"]["rejected"] == 1
        assert why in refused["records"][0]["problems"][0]["reason"]
    _assert_no_key_bytes_under(drop / "quarantine", [kek, signing])
    _assert_private(drop / "quarantine")
