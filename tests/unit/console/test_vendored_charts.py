"""The chart library the console serves is the version deploy/vendor-charts.sh pins, and every
file the console names is there."""

from __future__ import annotations

import re

from hub.api.console.rendering import HERE
from hub.api.console.routes import STATIC_FILES
from hub.settings import PROJECT_ROOT


def test_the_vendored_chart_library_is_the_pinned_version() -> None:
    script = (PROJECT_ROOT / "deploy" / "vendor-charts.sh").read_text()
    package = re.search(r"^PACKAGE=(\S+)$", script, re.M)
    integrity = re.search(r"^INTEGRITY=(\S+)$", script, re.M)
    assert package is not None
    assert integrity is not None
    version = (HERE / "static" / "uplot" / "VERSION").read_text().split()
    assert version == [package.group(1), integrity.group(1)]
    assert (
        "v" + package.group(1).split("@")[1]
        in (HERE / "static" / "uplot" / "uPlot.iife.min.js").read_text()[:80]
    )


def test_every_file_the_console_serves_exists() -> None:
    for name in STATIC_FILES:
        assert (HERE / "static" / name).is_file(), name
