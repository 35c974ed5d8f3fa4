"""Every migration declares which code runs against the schema it leaves (docs/migrations.md),
and no declaration is more permissive than the one before it."""

from __future__ import annotations

from alembic.script import Script, ScriptDirectory

from hub.infra.db import alembic_config
from hub.infra.schema_compatibility import code_lineage, declared_compatible_from
from hub.settings import Settings


def _scripts() -> list[Script]:
    directory = ScriptDirectory.from_config(alembic_config(Settings(environment="test")))
    return list(reversed(list(directory.walk_revisions())))


def test_every_migration_declares_an_earlier_or_its_own_revision() -> None:
    lineage = [s.revision for s in _scripts()]
    for script in _scripts():
        declared = declared_compatible_from(script)
        assert declared in lineage[: lineage.index(script.revision) + 1], script.revision


def test_no_migration_runs_with_code_older_than_its_predecessor_did() -> None:
    # Code too old for revision N-1 cannot run on N either: what N-1 changed is still there.
    lineage = [s.revision for s in _scripts()]
    previous = lineage[0]
    for script in _scripts():
        declared = declared_compatible_from(script)
        assert lineage.index(declared) >= lineage.index(previous), script.revision
        previous = declared


def test_the_code_lineage_ends_at_the_head() -> None:
    settings = Settings(environment="test")
    head = ScriptDirectory.from_config(alembic_config(settings)).get_current_head()
    lineage = code_lineage(settings)
    assert lineage[0] == "0001"
    assert lineage[-1] == head
