"""Properties of the status fold (Hypothesis), over streams of notifications from any source at
any time: a status never outlives its end, and a less authoritative source never downgrades."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from hub.domain.notifications import Notification
from hub.domain.person import NAMESPACES, PersonProfile, apply
from hub.domain.person.statuses import ended
from tests.unit.test_profile import scotland

PERSON = "p_property"
START = datetime(2020, 1, 1, tzinfo=UTC)
AREAS = ("S12000049", "S12000047", "S12000036")
#: The attribute saying whether each status is active.
ACTIVE_ATTRIBUTE = {
    "notification_requirements": "sex_offender_registered",
    "licence": "on_licence",
    "supervision": "statutory_supervision",
    "recalled": "recalled",
    "missing": "missing",
    "deceased": "deceased",
    "removed_from_scotland": "removed_from_scotland",
}
#: Facts that end statuses whoever set them (policies/README.md "statuses.yaml").
OVERRIDING = frozenset({"person.died", "person.removed-from-scotland"})

dates = st.dates(min_value=date(2020, 1, 1), max_value=date(2032, 12, 31)).map(date.isoformat)
areas = st.sampled_from(AREAS)


def _bodies() -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
    """(type, data) of the notifications that begin, change and end statuses."""
    return st.one_of(
        st.builds(
            lambda end, indefinite, area: (
                "sex-offender.registered",
                {
                    "indefinite": indefinite,
                    "address": {"council_area": area},
                    **({} if indefinite else {"requirements_end_date": end}),
                },
            ),
            dates,
            st.booleans(),
            areas,
        ),
        st.just(("sex-offender.requirements-ended", {"reason": "period-expired"})),
        st.builds(
            lambda marker, reason, schedule1: (
                "custody.admission",
                {
                    "establishment": "hmp-barlinnie",
                    "admission_reason": reason,
                    "sex_offender_notification": marker,
                    "schedule1_offender": schedule1,
                },
            ),
            st.booleans(),
            st.sampled_from(["remand", "sentence", "recall"]),
            st.booleans(),
        ),
        st.builds(
            lambda category, level: (
                "mappa.referral",
                {
                    "category": category,
                    "category_group": {
                        "s10(1)(a)": "registered-sex-offender",
                        "s10(1)(e)": "other-risk-of-serious-harm",
                    }[category],
                    "level": level,
                    "mappa_area": "S12000049",
                },
            ),
            st.sampled_from(["s10(1)(a)", "s10(1)(e)"]),
            st.integers(1, 3),
        ),
        st.just(
            (
                "mappa.level-changed",
                {
                    "change": "deregistration",
                    "deregistration_reason": "notification-requirements-ended",
                },
            )
        ),
        st.builds(
            lambda expiry, area: (
                "custody.liberation",
                {
                    "release_type": "parole-licence",
                    "supervising_council_area": area,
                    "release_address": {"council_area": area},
                    "licence": {"expiry_date": expiry, "conditions": [{"type": "curfew"}]},
                },
            ),
            dates,
            areas,
        ),
        st.builds(
            lambda expiry: (
                "licence.varied",
                {"licence_type": "parole", "new_expiry_date": expiry},
            ),
            dates,
        ),
        st.just(("licence.expired", {"licence_type": "parole"})),
        st.just(("licence.recall", {"custody_status": "at-large"})),
        st.builds(
            lambda area, end: (
                "supervision.started",
                {"supervising_council_area": area, "end_date": end, "order_type": "other"},
            ),
            areas,
            dates,
        ),
        st.builds(
            lambda area: ("supervision.transferred", {"to_council_area": area}),
            areas,
        ),
        st.just(("supervision.ended", {"reason": "completed"})),
        st.just(
            (
                "court.disposal",
                {"schedule1_offence": True, "notification_requirements_imposed": True},
            )
        ),
        st.just(("person.missing", {"trigger": "escaped-from-custody"})),
        st.just(("person.located", {"outcome": "arrested"})),
        st.just(("person.died", {"date_of_death": "2024-01-01"})),
        st.just(("person.removed-from-scotland", {"destination": "outside-uk"})),
        st.builds(
            lambda area: ("person.address-changed", {"new_address": {"council_area": area}}),
            areas,
        ),
    )


@st.composite
def streams(draw: st.DrawFn) -> list[Notification]:
    """Notifications from any source namespace, in time order (any gaps, same-time ones too)."""
    steps = draw(
        st.lists(
            st.tuples(_bodies(), st.sampled_from(NAMESPACES), st.integers(0, 800)),
            max_size=14,
        )
    )
    time = START
    notifications = []
    for index, ((event_type, data), namespace, days) in enumerate(steps):
        time += timedelta(days=days)
        notifications.append(
            Notification(
                id=f"n{index}",
                source=f"urn:pph:{namespace}:unit",
                type=event_type,
                version=1,
                time=time,
                identifiers=(),
                data=data,
            )
        )
    return notifications


def _fold(notifications: list[Notification]) -> list[tuple[PersonProfile, PersonProfile]]:
    """(before, after) of each notification (before the first: the empty profile)."""
    steps = []
    profile = PersonProfile(person_id=PERSON, position=0)
    for position, notification in enumerate(notifications, start=1):
        after = apply(profile, notification, position, PERSON, scotland())
        steps.append((profile, after))
        profile = after
    return steps


@settings(max_examples=300, deadline=None)
@given(streams(), st.integers(0, 6000))
def test_a_status_never_outlives_its_end(notifications: list[Notification], days: int) -> None:
    moments = [n.time for n in notifications] + [START + timedelta(days=days)]
    for (_, profile), notification in zip(_fold(notifications), notifications, strict=True):
        for as_of in (notification.time, *moments):
            context = profile.as_context(as_of=as_of)
            for kind, attribute in ACTIVE_ATTRIBUTE.items():
                record = profile.status(kind)
                if record is not None and record.ends is not None and ended(record.ends, as_of):
                    assert context.get(attribute) is not True, (kind, record, as_of)
            for attribute in ("licence_end", "notification_requirements_end"):
                if attribute in context:
                    assert as_of.date() <= date.fromisoformat(context[attribute])
        # A notification that ended a status sees it ended.
        for record in profile.statuses:
            if (
                record.closed_by == notification.type
                and record.ends == notification.time.isoformat()
            ):
                assert not record.active(notification.time)


@settings(max_examples=300, deadline=None)
@given(streams())
def test_a_less_authoritative_source_never_downgrades(notifications: list[Notification]) -> None:
    authorities = scotland()
    for (before, after), notification in zip(_fold(notifications), notifications, strict=True):
        if notification.type in OVERRIDING:
            continue
        namespace = notification.source.split(":")[2]
        for kind, ranks in authorities.by_kind.items():
            current = before.active(kind, notification.time)
            if ranks is None or current is None:
                continue
            if not authorities.may_lower(kind, namespace, current.set_by):
                # Neither ended, changed nor replaced: the record is exactly as it was.
                assert after.status(kind) == current, (kind, namespace, current)
