"""`bench/floors.py` runs to the end with tiny counts and reports every piece and every path (its
figures are read by people, in bench/RESULTS.md; no timing is asserted here)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Every piece the bench measures, by key: what the table and the JSON must both hold.
PIECES = {
    # HTTP and access tokens
    "http_hub_h11",
    "http_hub_h11_batch",
    "http_httptools",
    "asgi",
    "token_first",
    "token_remembered",
    # intake and import
    "parse",
    "parse_batch",
    "parse_line",
    "validate",
    "validate_fast",
    "publisher",
    "identity",
    "content_hash",
    "event_row",
    "collection_single",
    "collection_batch",
    "combination",
    # router
    "fold",
    "cedar_batch",
    "cedar_single",
    "engine_cold",
    "engine_warm",
    "decide",
    "decision_entries",
    "profile_row",
    # delivery
    "redact",
    "payload",
    "sign_v1",
    "sign_v1a",
    "webhook_post",
    "delivery_entry",
    # audit and verification
    "audit_encode",
    "audit_sequence",
    "verify_leaf",
    "verify_merkle",
    "verify_columns",
    "verify_evidence",
}
PATHS = {"intake single", "intake batch", "router", "delivery", "import", "verify"}


@pytest.mark.slow
def test_every_piece_and_every_path_is_reported(tmp_path: Path) -> None:
    figures = tmp_path / "floors.json"
    environ = {k: v for k, v in os.environ.items() if not k.upper().startswith("HUB_")}
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/floors.py"),
            "--events",
            "24",
            "--repeats",
            "1",
            "--requests",
            "20",
            "--sends",
            "20",
            "--json",
            str(figures),
        ],
        env=environ | {"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]

    document = json.loads(figures.read_text("utf-8"))
    pieces = {p["key"]: p for p in document["pieces"]}
    assert set(pieces) == PIECES
    for piece in pieces.values():
        # One timed pass each (after the warm-up), a number per unit; never NaN or negative.
        assert len(piece["cpu_us_passes"]) == 1, piece["key"]
        assert math.isfinite(piece["cpu_us"]), piece["key"]
        assert piece["cpu_us"] >= 0, piece["key"]
        assert math.isfinite(piece["wall_us"]), piece["key"]
        assert piece["wall_us"] > 0, piece["key"]
        # Every piece is a row of the printed table, with its label.
        assert any(line.startswith(piece["label"][:58]) for line in done.stdout.splitlines())

    assert set(document["paths"]) == PATHS
    for name, path in document["paths"].items():
        # Each path is summed over pieces that were measured, and has a budget to be read against.
        assert path["units"], name
        assert set(path["units"]) <= PIECES, name
        assert all(n > 0 for n in path["units"].values()), name
        expected = sum(pieces[key]["cpu_us"] * n for key, n in path["units"].items())
        assert path["floor_us"] == pytest.approx(expected)
        low, high = path["budget_us"]
        assert 0 < low <= high, name
        assert any(line.startswith(f"{name:14} ") for line in done.stdout.splitlines()), name

    # The mix is the realistic one: events decided for several recipients, some people linked.
    counts = document["counts"]
    assert counts["decisions/event"] > 1
    assert 0 < counts["combinations/event"] <= 1
    assert 0 < counts["entries binding a row"] < 1
