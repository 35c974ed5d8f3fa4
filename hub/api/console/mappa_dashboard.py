"""What the oversight dashboard reads for a region and a chosen period, from the services the
API uses (`LatencyPeriodService`): the figures of the period per agency and notification type,
and the trends of the last 12 months. Only the region's agencies are asked about
(`region_agencies`), so nothing of another region is read. Counts and latencies only: no
personal data, so no consultation is logged (as the all-time figures of `/metrics`)."""

from __future__ import annotations

from dataclasses import dataclass

from hub.api.console.mappa_access import region_agencies
from hub.api.console.mappa_figures import FigureRow, region_rows, total
from hub.api.console.mappa_periods import ChosenPeriod
from hub.api.console.mappa_trends import Trends, region_trends
from hub.bootstrap import Container
from hub.services.latency_periods import PeriodCounts

#: The months of the trends: this one and the 11 before.
TREND_MONTHS = 12


@dataclass(frozen=True, slots=True)
class RegionFigures:
    chosen: ChosenPeriod
    rows: list[FigureRow]
    totals: PeriodCounts
    trends: Trends


async def region_figures(container: Container, region: str, chosen: ChosenPeriod) -> RegionFigures:
    agencies = region_agencies(container.policy.directory, region)
    periods = container.latency_periods
    rows = region_rows(await periods.figures(agencies, chosen.period), agencies)
    months = await periods.months(agencies, TREND_MONTHS)
    return RegionFigures(chosen, rows, total(rows), region_trends(months))
