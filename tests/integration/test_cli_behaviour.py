"""The `hub` command as an operator meets it (issue 17, items 7 and 8): a database it cannot
reach is one line and exit 3, a closed pipe and Ctrl-C end quietly, `--version`, documented
exit statuses, text by default and `--json` on request, and `hub --help` without the heavy
modules. Run as real processes where the behaviour is the process's (pipes, exit statuses)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.cli import exits
from hub.settings import PROJECT_ROOT
from tests.conftest import POSTGRES_URL, Database
from tests.integration.api_helpers import running_hub
from tests.integration.cli_helpers import run_cli

PASSWORD = "pw-Zebra-9931"
HUB = [sys.executable, "-m", "hub.cli"]


def _environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    return environ | {"HUB_ENVIRONMENT": "test", "HUB_DATA_DIR": str(tmp_path)} | settings


def _hub(tmp_path: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HUB, *args],
        env=_environment(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_an_unreachable_database_is_one_line_naming_where_without_the_password(
    tmp_path: Path,
) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    url = f"postgresql+asyncpg://hub:{PASSWORD}@127.0.0.1:1/hub"
    done = _hub(tmp_path, "clients", "list", HUB_DATABASE_URL=url)
    assert done.returncode == exits.UNAVAILABLE, done.stderr
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    [line] = _error_lines(done.stderr)
    assert line.startswith(
        "error: cannot reach the database postgresql+asyncpg://hub@127.0.0.1:1/hub "
        "(HUB_DATABASE_URL): "
    )


def test_serve_with_an_unreachable_database_is_one_line_and_exit_3(tmp_path: Path) -> None:
    # The API's startup fails inside uvicorn, which would log the traceback and exit 3 itself.
    url = f"postgresql+asyncpg://hub:{PASSWORD}@127.0.0.1:1/hub"
    done = _hub(tmp_path, "serve", "--port", "0", HUB_DATABASE_URL=url)
    assert done.returncode == exits.UNAVAILABLE, done.stderr
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout
    [line] = _error_lines(done.stderr)
    assert "postgresql+asyncpg://hub@127.0.0.1:1/hub (HUB_DATABASE_URL)" in line


@pytest.mark.postgres
def test_a_refused_password_is_one_line_without_the_password(tmp_path: Path) -> None:
    host = POSTGRES_URL.split("@", 1)[1]
    done = _hub(
        tmp_path,
        "clients",
        "list",
        HUB_DATABASE_URL=f"postgresql+asyncpg://hub:{PASSWORD}@{host}",
    )
    assert done.returncode == exits.UNAVAILABLE, done.stderr
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr
    [line] = _error_lines(done.stderr)
    assert f"postgresql+asyncpg://hub@{host} (HUB_DATABASE_URL)" in line


def test_a_sqlite_file_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "hub.sqlite3"
    done = _hub(tmp_path, "clients", "list", HUB_DATABASE_URL=f"sqlite+aiosqlite:///{missing}")
    assert done.returncode == exits.UNAVAILABLE, done.stderr
    assert "Traceback" not in done.stderr
    [line] = _error_lines(done.stderr)
    assert line.startswith(f"error: cannot reach the database sqlite+aiosqlite:///{missing}")


def test_the_migration_database_is_named_by_its_own_setting(tmp_path: Path) -> None:
    url = f"postgresql+asyncpg://owner:{PASSWORD}@127.0.0.1:1/hub"
    done = _hub(
        tmp_path,
        "db",
        "upgrade",
        HUB_DATABASE_URL="postgresql+asyncpg://hub@127.0.0.1:1/hub",
        HUB_DATABASE_MIGRATION_URL=url,
    )
    assert done.returncode == exits.UNAVAILABLE, done.stderr
    [line] = _error_lines(done.stderr)
    assert "owner@127.0.0.1:1/hub (HUB_DATABASE_MIGRATION_URL)" in line
    assert PASSWORD not in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        ("settings", "doc"),
        # Runs with the settings, and its error handling: a closed pipe is an OSError, and
        # must not be taken for an unreachable database.
        ("policy", "check"),
    ],
)
def test_a_closed_pipe_ends_quietly(tmp_path: Path, command: tuple[str, ...]) -> None:
    # The reader goes away before the command writes: every write meets a closed pipe.
    with subprocess.Popen(
        [*HUB, *command],
        env=_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        process.stdout.close()
        stderr = process.stderr.read().decode()
        assert process.wait(timeout=120) == exits.BROKEN_PIPE, stderr
    assert stderr == ""


def test_ctrl_c_ends_with_130_and_no_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.cli import main, settings_doc

    def interrupted() -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(settings_doc, "settings_table", interrupted)
    assert main(["settings", "doc"]) == exits.INTERRUPTED
    assert capsys.readouterr().err == "interrupted\n"


def test_version_and_the_exit_statuses_in_help(tmp_path: Path) -> None:
    version = _hub(tmp_path, "--version")
    assert version.returncode == 0
    assert version.stdout.startswith("hub ")
    assert version.stdout.split()[1][0].isdigit()
    helped = _hub(tmp_path, "--help")
    assert "4 not found" in " ".join(helped.stdout.split())


def test_help_does_not_load_the_database_web_or_policy_engines(tmp_path: Path) -> None:
    heavy = ["sqlalchemy", "fastapi", "uvicorn", "cedarpy", "asyncpg", "aiokafka", "jsonschema"]
    probe = (
        "import sys, contextlib, io\n"
        "from hub.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        f"print([m for m in {heavy!r} if m in sys.modules])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.strip() == "[]", done.stdout


@pytest.mark.asyncio
async def test_an_unknown_person_is_not_found(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    erase = ("persons", "erase", "sps_number:NOBODY1", "--reason", "test")
    assert await run_cli(database, monkeypatch, *erase) == exits.NOT_FOUND
    history = ("audit", "history", "sps_number:NOBODY1", "--purpose", "test")
    assert await run_cli(database, monkeypatch, *history) == exits.NOT_FOUND
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert len(_error_lines(err)) == 2


@pytest.mark.asyncio
async def test_audit_commands_print_text_and_json_on_request(
    database: Database, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    query = ("audit", "query", "--purpose", "annual review", "--kind", "consultation")
    capsys.readouterr()
    assert await run_cli(database, monkeypatch, *query) == 0
    text = capsys.readouterr().out
    assert text.split()[:3] == ["position", "occurred_at", "kind"]
    # The first query is itself logged as a consultation: the second finds it.
    assert await run_cli(database, monkeypatch, *query, "--json") == 0
    [found] = json.loads(capsys.readouterr().out)
    assert found["kind"] == "consultation"
    assert found["purpose"] == "annual review"


#: What `hub clients …` never needs (hub.bootstrap_admin): the policy engine and the event
#: schemas, Kafka, OpenTelemetry's SDK, the web stack, the webhook sender and PDF rendering.
NOT_FOR_ADMINISTRATION = [
    "hub.bootstrap",
    "hub.domain.policy.engine",
    "cedarpy",
    "jsonschema",
    "aiokafka",
    "opentelemetry.sdk",
    "fastapi",
    "uvicorn",
    "httpx",
    "weasyprint",
]


@pytest.mark.asyncio
async def test_client_administration_starts_without_the_bundle_kafka_or_the_web_stack(
    database: Database, tmp_path: Path
) -> None:
    settings = {"HUB_DATA_DIR": str(database.settings.data_dir)}
    if database.settings.database_url is not None:
        settings["HUB_DATABASE_URL"] = database.settings.database_url.get_secret_value()
    if database.settings.database_schema is not None:
        settings["HUB_DATABASE_SCHEMA"] = database.settings.database_schema
    probe = (
        "import sys, contextlib, io, json\n"
        "from hub.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = main(['clients', 'add', '--name', 'PR2 HMP Barlinnie', '--agency', 'sps',\n"
        "                 '--scope', 'events:publish', '--json'])\n"
        f"loaded = [m for m in {NOT_FOR_ADMINISTRATION!r} if m in sys.modules]\n"
        "print(json.dumps({'code': code, 'added': json.loads(out.getvalue()), 'loaded': loaded}))\n"
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", probe],
        env=_environment(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0, done.stderr
    assert result["loaded"] == []
    added = result["added"]
    assert (added["agency"], added["scopes"]) == ("sps", ["events:publish"])
    # The client is the full hub's: it gets a token from the API with its new secret.
    async with running_hub(database.settings) as hub:
        answer = await hub.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "scope": "events:publish"},
            auth=(added["client_id"], added["client_secret"]),
        )
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "events:publish"


def test_client_administration_refuses_an_invalid_directory_naming_the_line(
    tmp_path: Path,
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(PROJECT_ROOT / "policies" / "scotland", bundle)
    directory = bundle / "directory.yaml"
    directory.write_text(directory.read_text() + "\nrecipients_extra: true\n")
    done = _hub(
        tmp_path,
        "clients",
        "add",
        "--name",
        "x",
        "--agency",
        "sps",
        "--scope",
        "events:publish",
        HUB_POLICY_BUNDLE_DIR=str(bundle),
    )
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = _error_lines(done.stderr)
    assert f"{directory}" in line
    assert "recipients_extra" in done.stderr
    listed = _hub(tmp_path, "clients", "list", "--json")
    assert json.loads(listed.stdout) == []  # nothing was registered


#: What `hub audit verify` (and its hourly CronJob) never needs (hub.bootstrap_audit): the same
#: as client administration, and field protection (it checks rows as stored, sealed).
NOT_FOR_VERIFICATION = [*NOT_FOR_ADMINISTRATION, "hub.infra.protection"]


@pytest.mark.asyncio
async def test_audit_verification_starts_without_the_bundle_kafka_or_the_web_stack(
    database: Database, tmp_path: Path
) -> None:
    from hub.domain.audit.entries import AuditEntry, AuditKind
    from hub.infra.audit import SqlAuditLog, load_audit_signer
    from hub.infra.checkpoint_dir import CheckpointDirectory
    from hub.services.audit import AuditCheckpointer, AuditSequencer

    # A log of a few entries, checkpointed with the hub's key and published outside the
    # database, as a running hub leaves it.
    log = SqlAuditLog(database.engine)
    await log.record(
        [
            AuditEntry(
                kind=AuditKind.CONSULTATION,
                occurred_at=datetime(2026, 12, 7, 10, 0, n, tzinfo=UTC),
                actor="client-cjsw-glasgow",
                agency="cjsw.glasgow",
                person_id=f"p_{n:04d}",
                purpose="supervision of a licence",
                outcome="read",
            )
            for n in range(5)
        ]
    )
    await AuditSequencer(log).run_until_idle()
    published = CheckpointDirectory(database.settings.resolved_audit_checkpoint_dir)
    signer = load_audit_signer(database.settings)
    assert await AuditCheckpointer(log, signer, publisher=published).run_once() is not None

    settings = {"HUB_DATA_DIR": str(database.settings.data_dir)}
    if database.settings.database_url is not None:
        settings["HUB_DATABASE_URL"] = database.settings.database_url.get_secret_value()
    if database.settings.database_schema is not None:
        settings["HUB_DATABASE_SCHEMA"] = database.settings.database_schema
    probe = (
        "import sys, contextlib, io, json\n"
        "from hub.cli import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = main(['audit', 'verify', '--json'])\n"
        f"loaded = [m for m in {NOT_FOR_VERIFICATION!r} if m in sys.modules]\n"
        "print(json.dumps({'code': code, 'report': json.loads(out.getvalue()), "
        "'loaded': loaded}))\n"
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", probe],
        env=_environment(tmp_path, **settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["code"] == 0, done.stderr
    assert result["loaded"] == []
    report = result["report"]
    assert (report["ok"], report["entries"], report["checkpoints"]) == (True, 5, 1)
    assert report["held_checkpoint"] == 5  # checked against the published checkpoint
    assert report["evidence"]["index_entries"] == 5
    # The run is recorded, for the console's audit status page.
    async with database.engine.connect() as connection:
        runs = await connection.execute(sa.text("SELECT count(*) FROM audit_verification_runs"))
        assert runs.scalar_one() == 1
