"""The MAPPA dashboard's periods, trends and charts over real HTTP, on both backends, signed in
through the real Keycloak: the figures of a chosen period and of each month are those of the
region's agencies' disclosures decided in it (another region's never counted), the charts' data
is the tables' numbers, the page may run the hub's own scripts and no other, viewing these
aggregates logs no consultation, and a wrong period is answered on the page, naming the field,
with no figures read."""

# ruff: noqa: F811 - the fixtures are imported by name, as test_console_mappa does.

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from hub.services.latency_periods import UK_TIME, month_start
from tests.integration.api_helpers import bearer
from tests.integration.console.hub_browser import CONSOLE_URL
from tests.integration.test_console_dpo import Console, consultations, signed_in
from tests.integration.test_console_mappa import (
    GLASGOW,
    LANARKSHIRE,
    NORTH_LANARKSHIRE,
    REGION,
    _serves_only,
    cells,
    console,  # noqa: F401 - a fixture, used by name
    disclosed,
    release_to,
)
from tests.keycloak import (
    KeycloakUnderTest,
    keycloak,  # noqa: F401 - a fixture, used by name
)

pytestmark = [pytest.mark.asyncio, pytest.mark.keycloak]

DASHBOARD = f"/console/mappa/{REGION}"


def dashboard(**params: str) -> str:
    """The dashboard's URL with the period form's fields (`from_` for `from`)."""
    query = urlencode({name.rstrip("_"): value for name, value in params.items()})
    return f"{DASHBOARD}?{query}"


def chart_data(page: str) -> dict[str, Any]:
    found = re.search(
        r'<script type="application/json" id="mappa-chart-data">(.*?)</script>', page, re.DOTALL
    )
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


async def test_the_chosen_period_and_the_months_count_the_region_s_disclosures_only(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    hub = console.hub
    directory = hub.container.policy.directory
    ours = [
        *await disclosed(hub, (await release_to(hub, NORTH_LANARKSHIRE))["id"]),
        *await disclosed(hub, (await release_to(hub, NORTH_LANARKSHIRE))["id"]),
    ]
    theirs = await disclosed(hub, (await release_to(hub, GLASGOW))["id"])
    regional = [d for d in ours if _serves_only(directory, d["recipient_id"], LANARKSHIRE)]
    assert regional
    assert theirs
    # One agency acknowledges one disclosure at once: on time.
    first = regional[0]
    reader = await hub.token(first["recipient_id"], "feed:read")
    acked = await hub.http.post(
        f"/v1/disclosures/{first['disclosure_id']}/ack", headers=bearer(reader)
    )
    assert acked.status_code == 201, acked.text
    now = datetime.now(UTC).astimezone(UK_TIME)  # the dashboard's days are Scotland's
    today, this_month = now.date().isoformat(), month_start(now)

    await signed_in(console, keycloak, "coordinator-lanarkshire")
    default = await console.browser.get(DASHBOARD)
    assert default.status_code == 200, default.text
    page = default.text
    # The default is the last 12 months, checked in the form.
    assert 'id="period-last-12-months" name="period" value="last-12-months" checked' in page
    total = cells(page, "row-total")
    with_due = [d for d in regional if d["acknowledge_within_seconds"] is not None]
    on_time = 1 if first in with_due else 0
    assert total[2:8] == [str(len(regional)), "0", "1", "0", str(on_time), "0"], total
    # This month's trend row counts the same disclosures; the months before, none.
    month_row = cells(page, f"month-{this_month:%Y-%m}")
    assert month_row[0] == f"{this_month:%B %Y}"
    assert month_row[1:6] == [str(len(regional)), "0", str(on_time), "0", "0"], month_row
    assert len(re.findall(r'<tr id="month-\d{4}-\d{2}">', page)) == 12
    # Volumes by type: this month's disclosures, all of one type.
    [event_type] = {d["event_type"] for d in regional}
    assert cells(page, f"volumes-{this_month:%Y-%m}") == [
        f"{this_month:%B %Y}",
        str(len(regional)),
    ]
    # The charts draw the tables' numbers.
    data = chart_data(page)
    assert data["months"][-1] == int(this_month.timestamp())
    volumes = data["charts"]["volumes"]["series"]
    assert volumes == [{"label": event_type, "values": [0] * 11 + [len(regional)]}]
    acknowledgements = data["charts"]["acknowledgements"]["series"]
    assert acknowledgements[0]["values"][-1] == on_time
    # Another region's agencies are nowhere: not in the rows, not in any count.
    for d in theirs:
        if _serves_only(directory, d["recipient_id"], {GLASGOW}):
            assert f"row-{d['recipient_id']}-" not in page

    # Another period: chosen days that hold today, then last month and yesterday (nothing).
    chosen = await console.browser.get(dashboard(period="custom", from_=today, to=today))
    assert chosen.status_code == 200, chosen.text
    assert cells(chosen.text, "row-total")[2] == str(len(regional))
    assert f'value="{today}"' in chosen.text
    yesterday = (now - timedelta(days=1)).date().isoformat()
    for params in (
        {"period": "last-month"},
        {"period": "custom", "from": yesterday, "to": yesterday},
    ):
        earlier = await console.browser.get(f"{DASHBOARD}?{urlencode(params)}")
        assert earlier.status_code == 200, earlier.text
        assert 'id="no-figures"' in earlier.text
        assert 'id="figures"' not in earlier.text
        # The trends are the last 12 months whatever the period.
        assert cells(earlier.text, f"month-{this_month:%Y-%m}")[1] == str(len(regional))
    # Counts and latencies only: no consultation is logged for them.
    assert await consultations(hub) == []


async def test_the_page_runs_the_hub_s_own_chart_scripts_and_no_other(
    console: Console, keycloak: KeycloakUnderTest
) -> None:
    await release_to(console.hub, NORTH_LANARKSHIRE)
    await signed_in(console, keycloak, "coordinator-lanarkshire")
    page = await console.browser.get(DASHBOARD)
    assert page.status_code == 200, page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy
    scripts = re.findall(r"<script([^>]*)>", page.text)
    sources = [re.search(r'src="([^"]+)"', s) for s in scripts]
    # The data block is not run; every script that runs is a file of the hub's.
    assert [s for s, src in zip(scripts, sources, strict=True) if src is None] == [
        ' type="application/json" id="mappa-chart-data"'
    ]
    for src in sources:
        if src is None:
            continue
        url = html.unescape(src.group(1))
        assert url.startswith(f"{CONSOLE_URL}/console/static/"), url
        served = await console.browser.get(url)
        assert served.status_code == 200
        assert served.headers["content-type"].startswith("text/javascript")
    uplot = await console.browser.get("/console/static/uplot/uPlot.iife.min.js")
    assert "var uPlot=" in uplot.text
    assert (await console.browser.get("/console/static/uplot/uPlot.min.css")).status_code == 200
    assert (await console.browser.get("/console/static/uplot/LICENSE")).status_code == 404
    # Pages without charts still run no script at all.
    home = await console.browser.get("/")
    assert "script-src" not in home.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"period": "since-the-beginning"}, "period", "Choose one of the periods listed"),
        ({"period": "custom", "to": "2026-01-01"}, "from", "Enter the first day of the period"),
        (
            {"period": "custom", "from": "2026-01-01", "to": "01/02/2026"},
            "to",
            "The last day must be a date written as year-month-day",
        ),
        (
            {"period": "custom", "from": "2026-02-01", "to": "2026-01-01"},
            "to",
            "The last day must be the same as or after the first day",
        ),
        (
            {"period": "custom", "from": "x" * 5000, "to": "2026-01-01"},
            "from",
            "The first day must be a date",
        ),
    ],
)
async def test_a_wrong_period_is_answered_on_the_page_and_nothing_is_read(
    console: Console, keycloak: KeycloakUnderTest, params: dict[str, str], field: str, message: str
) -> None:
    await release_to(console.hub, NORTH_LANARKSHIRE)
    await signed_in(console, keycloak, "coordinator-lanarkshire")

    answer = await console.browser.get(f"{DASHBOARD}?{urlencode(params)}")

    assert answer.status_code == 400, answer.text
    page = answer.text
    assert 'id="error-summary"' in page
    assert f'<li><a href="#{field}">{message}' in page
    assert f'id="{field}-error"' in page
    if field != "period":  # a text field says it is wrong; the radios' fieldset shows it
        assert f'id="{field}" name="{field}"' in page
        assert 'aria-invalid="true"' in page
    # What was typed is shown again (cut to the field's length), and no figure is on the page.
    for name, value in params.items():
        assert f'value="{html.escape(value[:40])}"' in page or name == "period"
    assert 'id="nothing-read"' in page
    for figures in ('id="figures"', 'id="trends"', 'id="volumes"', "mappa-chart-data"):
        assert figures not in page
    assert "script-src" not in answer.headers["content-security-policy"]
    # The overdue list can still be opened from the page.
    assert 'id="open-overdue"' in page
    assert await consultations(console.hub) == []
