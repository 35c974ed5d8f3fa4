"""The built wheel is a working hub on its own (issue 17): installed into a fresh venv and run
from outside the checkout, `hub policy check`, `hub db upgrade` (SQLite) and `hub serve` (ready
at /readyz) find the event schemas, the policy bundle, the migrations and the console's assets
inside the installed package, never the repository's.

These are deploy/Dockerfile's install steps, run here because no container engine is: build the
wheel without build isolation from the locked backend (requirements/build.txt), install the
locked runtime dependencies (requirements/runtime.txt), then the wheel with `--no-deps`. To keep
CI cheap the locked dependencies are not downloaded and installed again: the fresh venv gets a
link to each distribution requirements/runtime.txt pins, as the test venv has it (`make setup`
installed it from the same lock, at the same versions: tests/unit/deploy/test_lock.py), and
nothing else: no development package, and not the test venv's editable install of the hub. So
`pip check` there proves the runtime lock covers the wheel's dependencies, and the commands below
prove the wheel and the runtime lock are enough to run the hub.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import time
import zipfile
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from hub.api.console.routes import STATIC_FILES
from hub.settings import PROJECT_ROOT
from tests.e2e.conftest import free_port

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path
    env: dict[str, str]
    cwd: Path

    def hub(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.venv / "bin" / "hub"), *args],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def python(self, code: str) -> str:
        done = subprocess.run(
            [str(self.venv / "bin" / "python"), "-c", code],
            cwd=self.cwd,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()


def _run(*args: str | Path, cwd: Path) -> None:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _link_runtime_lock(site: Path) -> None:
    """Link into `site` every top-level module and the metadata of each distribution that
    requirements/runtime.txt pins, from this (the test) venv."""
    lock = (PROJECT_ROOT / "requirements" / "runtime.txt").read_text(encoding="utf-8")
    for name in re.findall(r"^([A-Za-z0-9._-]+)==", lock, flags=re.M):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            # Pinned for another platform only (a marker): pip would not install it here either.
            continue
        tops = {Path(f).parts[0] for f in dist.files or ()}
        for top in sorted(t for t in tops if t != ".." and not t.endswith(".pth")):
            target, link = Path(str(dist.locate_file(top))), site / top
            if target.exists() and not link.exists():
                link.symlink_to(target, target_is_directory=target.is_dir())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    work = tmp_path_factory.mktemp("wheel")
    dist = work / "dist"
    # The Dockerfile's builder stage: `pip wheel --no-deps --no-build-isolation .`
    _run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", dist, PROJECT_ROOT, cwd=work)  # fmt: skip
    (wheel,) = dist.glob("public_protection_hub-*.whl")
    venv = work / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    # The final stage's `pip install --no-deps <wheel>` (pip run from outside the fresh venv).
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet",
         "--no-deps", "--no-index", wheel, cwd=work)  # fmt: skip
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    _link_runtime_lock(purelib)
    _run(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "check", cwd=work)
    outside = work / "elsewhere"
    outside.mkdir()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(HUB_ENVIRONMENT="development", HUB_DATA_DIR=str(outside / "data"))
    return Installed(wheel=wheel, venv=venv, env=env, cwd=outside)


def test_the_wheel_carries_the_data_directories_and_the_console_assets(
    installed: Installed,
) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for source in ("events", "policies", "migrations"):
        expected = {
            f"hub/_data/{p.relative_to(PROJECT_ROOT).as_posix()}"
            for p in (PROJECT_ROOT / source).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert expected, source
        assert expected <= names, sorted(expected - names)[:5]
    api = PROJECT_ROOT / "hub" / "api"
    assets = {
        p.relative_to(PROJECT_ROOT).as_posix()
        # The console's assets, its print templates and fonts (the PDF), the API docs' scripts.
        for folder in ("console/static", "console/templates", "console/print", "docs_static")
        for p in (api / folder).rglob("*")
        if p.is_file()
    }
    assert assets
    assert assets <= names, sorted(assets - names)[:5]
    assert not [n for n in names if n.startswith(("tests/", "bench/", "events/", "deploy/"))]


def test_the_installed_hub_reads_only_the_installed_package(installed: Installed) -> None:
    site = Path(
        installed.python("import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ).resolve()
    found = installed.python(
        "import hub, hub.settings as s, hub.api.console.routes as c; t = s.Settings(); "
        "print(hub.__file__, t.events_dir, t.policy_bundle_dir, t.migrations_dir, c.HERE, "
        "sep='\\n')"
    ).splitlines()
    for path in found:
        assert Path(path).resolve().is_relative_to(site), path
        assert not Path(path).resolve().is_relative_to(PROJECT_ROOT.resolve()), path
        assert Path(path).exists(), path
    # Nothing but the runtime lock beside the wheel: no development package is importable.
    dev_only = installed.python(
        "import importlib.util as u; print([m for m in ('pytest', 'hypothesis', 'playwright', "
        "'mypy', 'schemathesis') if u.find_spec(m)])"
    )
    assert dev_only == "[]"
    # Every console template loads, and its static files are there, from the installed package
    # (the console itself needs an identity provider to serve them: tests/e2e/console).
    template_dir = PROJECT_ROOT / "hub/api/console/templates"
    shipped = sorted(p.relative_to(template_dir).as_posix() for p in template_dir.rglob("*.html"))
    loaded = installed.python(
        "from hub.api.console.rendering import HERE, templates; "
        "from hub.api.console.routes import STATIC_FILES; "
        f"print(*(templates.get_template(n).filename for n in {shipped!r}), sep='\\n'); "
        "print(*(HERE / 'static' / name for name in STATIC_FILES), sep='\\n')"
    ).splitlines()
    assert len(loaded) == len(shipped) + len(STATIC_FILES)
    for path in loaded:
        assert Path(path).resolve().is_relative_to(site), path
        assert Path(path).is_file(), path


def test_policy_check_db_upgrade_and_serve(installed: Installed) -> None:
    checked = installed.hub("policy", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    upgraded = installed.hub("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert (installed.cwd / "data" / "hub.sqlite3").is_file()

    port = free_port()
    log = installed.cwd / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(installed.venv / "bin" / "hub"), "serve", "--port", str(port)],
            cwd=installed.cwd,
            env=installed.env,
            stdout=out,
            stderr=out,
        )
    try:
        deadline = time.monotonic() + 120
        ready = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert ready is not None, log.read_text()
        assert ready.status_code == 200, log.read_text()
        # /docs loads Swagger UI from the installed package, not from a CDN.
        bundle = httpx.get(f"http://127.0.0.1:{port}/docs/assets/swagger-ui/swagger-ui-bundle.js")
        assert bundle.status_code == 200, log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)
