"""The schemas and the bundle a process loads are validated once per content: the same files
give the same objects, and any change to them gives a fresh, validated load."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hub.domain.loaded_contract import load_contract
from hub.errors import PolicyBundleInvalid
from hub.settings import PROJECT_ROOT


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    events = tmp_path / "events"
    bundle = tmp_path / "scotland"
    shutil.copytree(PROJECT_ROOT / "events", events)
    shutil.copytree(PROJECT_ROOT / "policies" / "scotland", bundle)
    return events, bundle


def test_the_same_files_give_the_same_objects(copies: tuple[Path, Path]) -> None:
    events, bundle = copies
    schemas, policy = load_contract(events, bundle)
    assert load_contract(events, bundle) == (schemas, policy)
    assert policy.origin == str(bundle)


def test_a_changed_rule_file_gives_a_fresh_load(copies: tuple[Path, Path]) -> None:
    events, bundle = copies
    _, before = load_contract(events, bundle)
    (bundle / "rules" / "zz-extra.yaml").write_text("rules: []\n")
    _, after = load_contract(events, bundle)
    assert after is not before
    assert after.version != before.version


def test_a_changed_schema_gives_fresh_schemas(copies: tuple[Path, Path]) -> None:
    events, bundle = copies
    schemas, _ = load_contract(events, bundle)
    envelope = events / "envelope.v1.schema.json"
    envelope.write_text(envelope.read_text() + "\n")
    assert load_contract(events, bundle)[0] is not schemas


def test_a_broken_bundle_is_refused_every_time(copies: tuple[Path, Path]) -> None:
    events, bundle = copies
    load_contract(events, bundle)
    (bundle / "rules" / "zz-broken.yaml").write_text("rules: [\n")
    for _ in range(2):  # never remembered as loaded
        with pytest.raises(PolicyBundleInvalid, match="not valid YAML"):
            load_contract(events, bundle)
