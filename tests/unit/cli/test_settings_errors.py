"""Settings the hub cannot use stop the CLI with one line per problem naming the `HUB_…`
variable, without its value, and exit status 2 (issue 17, item 7)."""

from __future__ import annotations

import os

import pytest

from hub.cli import main
from hub.cli.settings_errors import redact, secret_values

PASSWORD = "pw-Zebra-9931"


@pytest.fixture(autouse=True)
def _no_hub_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("HUB_"):
            monkeypatch.delenv(name)


def _run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, **env: str) -> str:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code = main(["policy", "check"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    return err


def test_a_bad_database_url_is_named_and_its_password_never_shown(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _run(capsys, monkeypatch, HUB_DATABASE_URL=f"postgresql://hub:{PASSWORD}@db:5432/hub")
    assert err.splitlines()[1] == (
        "  HUB_DATABASE_URL must start with postgresql+asyncpg:// or sqlite+aiosqlite://"
    )
    assert PASSWORD not in err
    assert "db:5432" not in err  # nothing of the value is echoed


def test_a_wrong_number_names_the_variable_not_the_field(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _run(capsys, monkeypatch, HUB_PORT="eighty", HUB_DATABASE_POOL_SIZE="0")
    lines = err.splitlines()
    assert lines[0] == "error: invalid settings (see `hub settings doc`):"
    assert any(line.strip().startswith("HUB_PORT: ") for line in lines)
    assert any(line.strip().startswith("HUB_DATABASE_POOL_SIZE: ") for line in lines)
    assert not any(line.strip().startswith(("port", "database_pool_size")) for line in lines)
    assert "eighty" not in err


def test_a_list_setting_that_is_not_json_is_one_clear_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _run(capsys, monkeypatch, HUB_WEBHOOK_RETRY_SCHEDULE="5,10")
    problems = err.splitlines()[1:]
    assert len(problems) == 1, err
    assert problems[0].strip().startswith("HUB_WEBHOOK_RETRY_SCHEDULE: not valid JSON")
    assert "[5, 300, 1800]" in problems[0]


def test_a_mapping_setting_that_is_not_json_says_it_wants_an_object(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _run(capsys, monkeypatch, HUB_DATA_PREVIOUS_KEKS=f"old={PASSWORD}")
    assert "HUB_DATA_PREVIOUS_KEKS: not valid JSON; give a JSON object" in err
    assert PASSWORD not in err


def test_a_placeholder_secret_in_production_names_its_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    err = _run(
        capsys,
        monkeypatch,
        HUB_ENVIRONMENT="production",
        HUB_DATABASE_URL=f"postgresql+asyncpg://hub:{PASSWORD}@db/hub",
        HUB_TOKEN_SIGNING_KEY="changeme",
    )
    assert "HUB_TOKEN_SIGNING_KEY must be set to a real key in production" in err
    assert PASSWORD not in err


def test_secrets_are_found_in_the_environment_and_redacted() -> None:
    environ = {
        "HUB_DATABASE_URL": f"postgresql+asyncpg://hub:{PASSWORD}@db/hub",
        "hub_data_kek": "a-kek-value",
        "HUB_PORT": "8000",
    }
    secrets = secret_values(environ)
    assert PASSWORD in secrets
    assert "a-kek-value" in secrets
    assert "8000" not in secrets
    assert redact(f"failed for {PASSWORD} and a-kek-value", secrets) == "failed for *** and ***"
