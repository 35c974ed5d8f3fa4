"""A private PostgreSQL cluster for outage tests: its own data directory and port, so that a test
can stop and start it without touching the PostgreSQL the other tests share.

The server refuses to run as root, so as root the cluster belongs to user `postgres` and every
`pg_ctl` runs as that user. If the cluster cannot be made or started the fixture fails loudly
(tests never skip a database).
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("HUB_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class PrivatePostgres:
    """One cluster: `stop()` and `start()` it at will; `url` reaches its `hub` database."""

    directory: Path
    port: int
    run_as: str | None

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://hub@127.0.0.1:{self.port}/hub"

    def _run(self, program: str, *args: str, timeout: float = 120) -> str:
        command = [str(PG_BIN / program), *args]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} {' '.join(args)} failed ({done.returncode}):\n{done.stdout}"
                f"\n{done.stderr}\n{self.server_log()}"
            )
        return done.stdout

    def server_log(self) -> str:
        log = self.directory / "server.log"
        return log.read_text(errors="replace")[-4000:] if log.exists() else ""

    def create(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "hub", "--auth=trust", "-E", "UTF8")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "hub", "hub")

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c max_connections=100"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l",
            str(self.directory / "server.log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """A fast shutdown, as an operator's restart or a failover does: sessions are ended."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def is_running(self) -> bool:
        command = [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "status"]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        return subprocess.run(command, capture_output=True, check=False).returncode == 0


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A fresh private cluster with an empty `hub` database; removed afterwards."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError(f"no PostgreSQL server programs in {PG_BIN} (set HUB_TEST_PG_BIN)")
    run_as = None
    directory = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    if os.geteuid() == 0:
        run_as = "postgres"
        owner = pwd.getpwnam(run_as)
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    cluster = PrivatePostgres(directory, _free_port(), run_as)
    try:
        cluster.create()
        yield cluster
    finally:
        if cluster.data.exists() and cluster.is_running():
            cluster.stop()
        shutil.rmtree(directory, ignore_errors=True)
