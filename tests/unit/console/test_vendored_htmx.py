"""The htmx the console serves is the version deploy/vendor-htmx.sh pins, and the pages that
load it configure it for the console's Content-Security-Policy (no eval, no inline styles or
scripts, no copies of pages kept in the browser's storage)."""

from __future__ import annotations

import json
import re

from hub.api.console.rendering import HERE
from hub.settings import PROJECT_ROOT


def test_the_vendored_htmx_is_the_pinned_version() -> None:
    script = (PROJECT_ROOT / "deploy" / "vendor-htmx.sh").read_text()
    package = re.search(r"^PACKAGE=(\S+)$", script, re.M)
    integrity = re.search(r"^INTEGRITY=(\S+)$", script, re.M)
    assert package is not None
    assert integrity is not None
    version = (HERE / "static" / "htmx" / "VERSION").read_text().split()
    assert version == [package.group(1), integrity.group(1)]
    pinned = package.group(1).split("@")[1]
    assert f'version:"{pinned}"' in (HERE / "static" / "htmx" / "htmx.min.js").read_text()


def test_htmx_is_configured_for_the_strict_policy() -> None:
    base = (HERE / "templates" / "base.html").read_text()
    meta = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", base)
    assert meta is not None
    config = json.loads(meta.group(1))
    assert config["allowEval"] is False
    assert config["allowScriptTags"] is False
    assert config["includeIndicatorStyles"] is False
    assert config["historyEnabled"] is False
    assert config["historyCacheSize"] == 0
