"""The runtime role's privileges are decided for every table, in one readable list, and the
migration connection is configured apart from the hub's own (`hub.infra.grants`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from hub.infra.grants import GRANTS, parse_privileges, runtime_role
from hub.infra.tables import metadata
from hub.settings import Settings

OWNER = "postgresql+asyncpg://hub_owner:o@db:5432/hub"
RUNTIME = "postgresql+asyncpg://hub:r@db:5432/hub"


def test_every_table_of_the_schema_has_a_decided_grant() -> None:
    # A new table must say what the hub does to it (hub db upgrade refuses one that does not).
    assert set(metadata.tables) <= set(GRANTS)


def test_every_grant_is_a_plain_privilege_list_without_owner_powers() -> None:
    for table, listed in GRANTS.items():
        privileges = parse_privileges(listed)
        assert "SELECT" in privileges, table
        for column_list in privileges.values():
            assert column_list is None or column_list <= set(metadata.tables[table].c.keys())


@pytest.mark.parametrize(
    "listed",
    ["SELECT, TRUNCATE", "SELECT; DROP TABLE events", "ALL", "SELECT, SELECT", "UPDATE (Data)"],
)
def test_anything_else_in_the_list_is_refused(listed: str) -> None:
    with pytest.raises(ValueError, match="not a plain privilege list"):
        parse_privileges(listed)


def test_the_append_only_tables_get_no_update_or_delete() -> None:
    for table in ("disclosures", "audit_entries", "audit_index", "audit_checkpoints"):
        assert set(parse_privileges(GRANTS[table])) == {"SELECT", "INSERT"}, table
    assert parse_privileges(GRANTS["events"])["UPDATE"] == {"data"}


def test_migrations_run_on_the_hubs_own_url_unless_told_otherwise(tmp_path: Path) -> None:
    embedded = Settings(environment="test", data_dir=tmp_path)
    assert embedded.resolved_migration_url == embedded.resolved_database_url
    assert runtime_role(embedded) is None
    single = Settings(environment="test", database_url=SecretStr(RUNTIME))
    assert single.resolved_migration_url == RUNTIME
    assert runtime_role(single) is None


def test_the_runtime_role_is_the_hubs_user_or_the_one_named() -> None:
    split = Settings(
        environment="test",
        database_url=SecretStr(RUNTIME),
        database_migration_url=SecretStr(OWNER),
    )
    assert split.resolved_migration_url == OWNER
    assert runtime_role(split) == "hub"
    # The migration job alone: the owner's URL and the role's name, not the hub's password.
    job = Settings(
        environment="test",
        database_url=SecretStr(OWNER),
        database_runtime_role="hub_app",
    )
    assert runtime_role(job) == "hub_app"


def test_the_migration_url_must_name_the_same_backend(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="must name the same backend"):
        Settings(environment="test", data_dir=tmp_path, database_migration_url=SecretStr(OWNER))
    with pytest.raises(ValidationError, match="HUB_DATABASE_MIGRATION_URL must start with"):
        Settings(environment="test", database_migration_url=SecretStr("mysql://x"))


def test_a_runtime_role_name_is_a_plain_identifier() -> None:
    with pytest.raises(ValidationError, match="database_runtime_role"):
        Settings(environment="test", database_runtime_role='hub"; DROP ROLE x; --')
