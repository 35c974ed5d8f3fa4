"""deploy/Dockerfile, read (no container engine here; tests/e2e/test_wheel.py runs its install
steps): two stages, the final one without build tools and as a non-root numeric user; installs
only hash-checked locked packages and the wheel (never an editable checkout); copies only what
exists."""

from __future__ import annotations

import re

from hub.settings import PROJECT_ROOT

DOCKERFILE = PROJECT_ROOT / "deploy" / "Dockerfile"
#: System libraries the final stage may install: what WeasyPrint loads (no compiler, no headers).
RUNTIME_LIBRARIES = {"libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"}


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split(maxsplit=1)[0].upper(), line.split(maxsplit=1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def stages() -> list[list[tuple[str, str]]]:
    found: list[list[tuple[str, str]]] = []
    for instruction in instructions():
        if instruction[0] == "FROM":
            found.append([])
        if found:
            found[-1].append(instruction)
    return found


def test_two_stages_the_final_one_unprivileged_and_without_build_tools() -> None:
    builder, final = stages()
    assert builder[0][1].endswith("AS builder")
    users = [arg for op, arg in final if op == "USER"]
    assert users
    assert re.fullmatch(r"[1-9][0-9]*(:[1-9][0-9]*)?", users[-1])
    final_runs = " ".join(arg for op, arg in final if op == "RUN")
    assert "pip uninstall --yes" in final_runs
    assert not re.search(r"pip install|build-essential|gcc|-dev\b", final_runs)
    # The only system packages: the libraries WeasyPrint loads at run time (the PDF report).
    for installed in re.findall(r"apt-get install ((?:[-\w.+]+\s*)+)", final_runs):
        packages = [p for p in installed.split() if not p.startswith("-")]
        assert set(packages) <= RUNTIME_LIBRARIES, packages
    copies = [arg for op, arg in final if op == "COPY"]
    assert copies == ["--from=builder /opt/pph-hub /opt/pph-hub"]
    assert ("VOLUME", '["/var/lib/pph-hub"]') in final


def test_installs_only_locked_packages_and_the_wheel() -> None:
    installs = [
        arg
        for op, arg in instructions()
        if op == "RUN"
        for arg in re.split(r"\s*&&\s*", arg)
        if re.search(r"pip (install|wheel)", arg)
    ]
    for install in installs:
        assert "--require-hashes -r requirements/" in install or "--no-deps" in install, install
        assert " -e " not in install, install
    assert any("--require-hashes -r requirements/runtime.txt" in i for i in installs)
    assert any("--require-hashes -r requirements/build.txt" in i for i in installs)
    assert any(re.search(r"install --no-deps /dist/\*\.whl", i) for i in installs)


def test_every_copied_path_exists() -> None:
    for op, arg in instructions():
        if op == "COPY" and not arg.startswith("--from"):
            *sources, _ = arg.split()
            for source in sources:
                assert (PROJECT_ROOT / source).exists(), source
