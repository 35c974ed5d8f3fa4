"""The lock files (requirements/*.txt, `make lock`) agree with pyproject.toml: every dependency
pyproject.toml names, and none it does not, is pinned as a direct requirement at a version its
specifier allows, with hashes; the image's runtime lock pins the same versions as the
developers' lock; the build backend is the locked one. Without this, a dependency added to
pyproject.toml would be missing from `make setup`'s `pip install --require-hashes` (and from the
image) until someone noticed."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hub.settings import PROJECT_ROOT

PYPROJECT = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCKS = PROJECT_ROOT / "requirements"
PROJECT_VIA = "public-protection-hub (pyproject.toml)"
BUILD_VIA = "-r requirements/build.in"


@dataclass(frozen=True)
class Pin:
    version: str
    hashes: int
    via: frozenset[str]


def read_lock(path: Path) -> dict[str, Pin]:
    """`name==version [; marker] \\` blocks, each with its `--hash=` lines and `# via` notes."""
    pins: dict[str, Pin] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text(encoding="utf-8")):
        if block.startswith("#"):
            continue
        head = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", block)
        assert head, f"{path.name}: not a pin: {block[:80]!r}"
        via = {line.strip("# ").strip() for line in block.splitlines() if line.startswith("    #")}
        via = {v.removeprefix("via").strip() for v in via} - {""}
        hashes = block.count("--hash=sha256:")
        pins[canonicalize_name(head[1])] = Pin(head[2], hashes, frozenset(via))
    return pins


def requirements(*groups: str) -> dict[str, Requirement]:
    found: dict[str, Requirement] = {}
    for group in groups:
        if group == "runtime":
            lines = PYPROJECT["project"]["dependencies"]
        else:
            lines = PYPROJECT["project"]["optional-dependencies"][group]
        for line in lines:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            if name in found:  # named twice (httpx): both specifiers must hold
                requirement.specifier &= found[name].specifier
            found[name] = requirement
    return found


@pytest.mark.parametrize(
    ("lock", "groups"), [("dev.txt", ("runtime", "dev")), ("runtime.txt", ("runtime",))]
)
def test_the_lock_pins_exactly_pyprojects_dependencies(lock: str, groups: tuple[str, ...]) -> None:
    pins = read_lock(LOCKS / lock)
    wanted = requirements(*groups)
    direct = {name for name, pin in pins.items() if PROJECT_VIA in pin.via}
    missing, extra = sorted(set(wanted) - direct), sorted(direct - set(wanted))
    assert (missing, extra) == ([], []), (
        f"requirements/{lock} disagrees with pyproject.toml (run `make lock`): "
        f"not locked {missing}, no longer wanted {extra}"
    )
    for name, requirement in wanted.items():
        assert requirement.specifier.contains(pins[name].version, prereleases=True), (
            f"requirements/{lock} pins {name}=={pins[name].version}, but pyproject.toml wants "
            f"{requirement} (run `make lock`)"
        )


@pytest.mark.parametrize("lock", ["dev.txt", "runtime.txt", "build.txt"])
def test_every_pin_is_hash_checked(lock: str) -> None:
    pins = read_lock(LOCKS / lock)
    assert pins
    assert not [name for name, pin in pins.items() if pin.hashes == 0]


def test_the_image_runs_the_versions_the_tests_ran() -> None:
    dev = read_lock(LOCKS / "dev.txt")
    for lock in ("runtime.txt", "build.txt"):
        pins = read_lock(LOCKS / lock)
        assert {n: p.version for n, p in pins.items()} == {n: dev[n].version for n in pins}, lock


def test_the_build_backend_is_the_locked_one() -> None:
    backend = PYPROJECT["build-system"]["requires"]
    requires = {canonicalize_name(Requirement(r).name): r for r in backend}
    build_in = (LOCKS / "build.in").read_text(encoding="utf-8").split()
    assert sorted(build_in) == sorted(requires.values()), "requirements/build.in != build-system"
    pins = read_lock(LOCKS / "build.txt")
    assert {n for n, p in pins.items() if BUILD_VIA in p.via} == set(requires)
    for name, line in requires.items():
        assert Requirement(line).specifier.contains(pins[name].version), (name, pins[name])


def test_a_disagreement_is_caught(tmp_path: Path) -> None:
    """The reader sees a dependency the lock lacks (guards the checks above against a parser
    that finds nothing)."""
    lock = tmp_path / "dev.txt"
    text = (LOCKS / "dev.txt").read_text(encoding="utf-8")
    lock.write_text(re.sub(r"\njinja2==.*?(?=\n[a-z])", "", text, flags=re.S), encoding="utf-8")
    whole = {n for n, p in read_lock(LOCKS / "dev.txt").items() if PROJECT_VIA in p.via}
    direct = {n for n, p in read_lock(lock).items() if PROJECT_VIA in p.via}
    assert "jinja2" in set(requirements("runtime")) & whole
    assert whole - direct == {"jinja2"}
