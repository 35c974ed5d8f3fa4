"""Explaining decisions: for a stored or hypothetical notification, every candidate recipient,
the rules that matched and did not, and the fields granted and withheld — judged with the
person's profile as it stood at that notification, so that a stored decision is reproducible."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from hub.domain.notifications import Notification
from hub.domain.person import Authorities, PersonProfile, Status, apply
from hub.domain.person.survival import refold, surviving_statuses
from hub.domain.schemas import SchemaRegistry
from hub.errors import InvalidInput, NotFound
from hub.services.ports import EventStore


class PolicyExplainer(Protocol):
    version: str
    statuses: Authorities

    def explain(self, notification: Notification, profile: Mapping[str, Any]) -> dict[str, Any]: ...


class StoredProfiles(Protocol):
    async def stored_profile(self, person_id: str) -> Mapping[str, Any] | None:
        """The person's stored profile as stored (JSON of any format), if there is one."""
        ...


class ExplainService:
    def __init__(
        self,
        store: EventStore,
        schemas: SchemaRegistry,
        policy: PolicyExplainer,
        profiles: StoredProfiles,
    ) -> None:
        self._store = store
        self._schemas = schemas
        self._policy = policy
        #: Where the statuses that outlived retention are kept (hub.domain.person.survival).
        self._profiles = profiles

    async def _survivors(self, person_id: str) -> tuple[Status, ...]:
        document = await self._profiles.stored_profile(person_id)
        return () if document is None else surviving_statuses(document)[1]

    async def explain_stored(self, source: str, event_id: str) -> dict[str, Any]:
        """A stored notification, with the profile as it stood once it was applied."""
        stored = await self._store.get(source, event_id)
        if stored is None:
            raise NotFound(f"no notification with id {event_id!r} from {source!r} is stored")
        stream = [
            (event.position, event.notification)
            for event in await self._store.read_stream(stored.person_id)
            if event.stream_version <= stored.stream_version
        ]
        profile = refold(
            stored.person_id,
            stream,
            self._policy.statuses,
            await self._survivors(stored.person_id),
            through=stored.position,
        )
        assert profile is not None
        context = profile.as_context(as_of=stored.notification.time)
        explanation = self._policy.explain(stored.notification, context)
        return {
            "notification": {"source": source, "id": event_id, "position": stored.position},
            "person_id": stored.person_id,
            "profile_position": profile.position,
            "profile": context,
            "statuses": [s.to_json() for s in profile.statuses],
            **explanation,
        }

    async def explain_hypothetical(
        self, raw: object, *, with_history: bool = True
    ) -> dict[str, Any]:
        """A notification that is not stored: validated, then judged as if it arrived now,
        after everything stored about the person it names — or, without `with_history`, as if
        it were the first notification about its person: the stored profile is neither read nor
        shown, and the answer does not say whether the hub knows the person."""
        notification = self._schemas.validate(raw)
        person_id = (
            await self._store.resolve_person(list(notification.identifiers))
            if with_history
            else None
        )
        profile: PersonProfile | None = None
        authorities = self._policy.statuses
        if person_id is not None:
            events = await self._store.read_stream(person_id)
            stream = [(e.position, e.notification) for e in events]
            profile = refold(person_id, stream, authorities, await self._survivors(person_id))
        last = 0 if profile is None else profile.position
        after = apply(profile, notification, last + 1, person_id or "p_hypothetical", authorities)
        context = after.as_context(as_of=notification.time)
        explanation = self._policy.explain(notification, context)
        return {
            "notification": {"source": notification.source, "id": notification.id},
            "person_id": person_id,
            "profile": context,
            "statuses": [s.to_json() for s in after.statuses],
            "hypothetical": True,
            "history": "stored" if with_history else "not consulted",
            **explanation,
        }

    async def explain(self, request: object, *, with_history: bool = True) -> dict[str, Any]:
        """`{"stored": {"source": …, "id": …}}` or `{"notification": {…}}` (judged after the
        person's stored history only `with_history`)."""
        if not isinstance(request, dict) or len(request) != 1:
            raise InvalidInput(
                'say what to explain: {"stored": {"source": …, "id": …}} or '
                '{"notification": {…a notification…}}'
            )
        if "stored" in request:
            stored = request["stored"]
            if (
                not isinstance(stored, dict)
                or not isinstance(stored.get("source"), str)
                or not isinstance(stored.get("id"), str)
            ):
                raise InvalidInput('"stored" must be an object with string "source" and "id"')
            return await self.explain_stored(stored["source"], stored["id"])
        if "notification" in request:
            return await self.explain_hypothetical(
                request["notification"], with_history=with_history
            )
        raise InvalidInput(f'unknown key {next(iter(request))!r}: use "stored" or "notification"')
