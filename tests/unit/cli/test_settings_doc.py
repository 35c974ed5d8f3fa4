"""The README's settings table is the one generated from the settings class: every setting,
with its default and its `#:` comment (issue 17, item 7: it once missed the KEK, TLS and Kafka
settings)."""

from __future__ import annotations

from pathlib import Path

from hub.cli.settings_doc import BEGIN, END, settings_table
from hub.settings import Settings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_the_readme_table_is_the_generated_one() -> None:
    text = README.read_text(encoding="utf-8")
    table = text.split(BEGIN + "\n", 1)[1].split(END, 1)[0]
    assert table == settings_table(), "run `hub settings doc --write README.md`"


def test_every_setting_is_in_the_table_with_a_meaning() -> None:
    rows = {line.split("|")[1].strip(" `"): line for line in settings_table().splitlines()[2:]}
    assert set(rows) == {f"HUB_{name.upper()}" for name in Settings.model_fields}
    for name in ("HUB_DATA_KEK", "HUB_TLS_CERT_FILE", "HUB_KAFKA_BOOTSTRAP"):
        assert name in rows
    assert all(row.split("|")[3].strip() for row in rows.values()), "a setting without #:"
    assert "(secret)" not in settings_table()
