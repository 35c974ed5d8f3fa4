"""Webhook subscriptions: where a recipient wants the hub to push what is disclosed to it.

A recipient only ever sees and changes its own subscriptions. A subscription may narrow the
event types it receives, never widen them past what the policy could entitle the recipient to;
the hub calls only public https URLs (in production), and signs every delivery with secrets it
generates itself (Standard Webhooks), shown once when made.
"""

from __future__ import annotations

import enum
import secrets as random_ids
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from hub.domain.policy import PolicyBundle
from hub.errors import (
    Conflict,
    FieldProblem,
    HubError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
)
from hub.services.webhook_payload import DEFAULT_PAYLOAD_VERSION, PAYLOAD_VERSIONS
from hub.services.webhook_rules import (
    RefusedUrl,
    WebhookTarget,
    address_problem,
    generate_secret,
    internal_address_refused,
    literal_address,
    parse_webhook_url,
)
from hub.services.webhook_signing import DEFAULT_SIGNATURE_SCHEMES, SIGNATURE_SCHEMES

__all__ = [
    "FORMATS",
    "MAX_SECRETS",
    "UNSET",
    "AddressResolver",
    "CannotCarry",
    "NativeFormat",
    "Subscription",
    "SubscriptionRepository",
    "SubscriptionService",
    "Unset",
    "entitled_event_types",
    "known_formats",
    "native_formats",
    "register_native_format",
    "renderable_types",
]

#: How a disclosure is rendered for a webhook unless the subscription chooses a native format:
#: `json`, the redacted CloudEvent and the terms of its disclosure.
FORMATS: Final = ("json",)


class CannotCarry(HubError):
    """A native format has no place for this disclosure (its type, or its body's version)."""

    title = "Cannot render in the native format"


@dataclass(frozen=True, slots=True)
class NativeFormat:
    """An agency system's own format a subscription can choose instead of `json` (the agency
    adapters', `adapters/<name>/README.md`): only the granted fields, sent with `media_type` as
    Content-Type. A disclosure of a type it cannot carry (`render` raises `CannotCarry`) is sent
    as `json` (`hub.services.delivery`), so nothing is withheld for its presentation's sake; a
    subscription is refused a format that can carry none of the types it would receive.

    Services and adapters are independent layers: the infrastructure registers the adapters'
    formats (`hub.infra.webhooks`), as `pr2-json`, `visor-xml` and `socialwork-json`."""

    name: str
    media_type: str
    renderable_types: frozenset[str]
    #: A redacted envelope (`id`, `type`, `specversion` and the granted fields) to the body.
    render: Callable[[Mapping[str, Any]], bytes]


_NATIVE_FORMATS: dict[str, NativeFormat] = {}


def register_native_format(native: NativeFormat) -> None:
    """Offer `native` to subscriptions (registering a name again replaces it)."""
    if native.name in FORMATS:
        raise ValueError(f"{native.name} is a built-in format")
    _NATIVE_FORMATS[native.name] = native


def native_formats() -> Mapping[str, NativeFormat]:
    """The native formats registered, by name."""
    return dict(_NATIVE_FORMATS)


def known_formats() -> tuple[str, ...]:
    """Every format a subscription may choose: `json`, then the native ones by name."""
    return (*FORMATS, *sorted(_NATIVE_FORMATS))


#: A new secret and the one before it (both sign while a receiver switches over).
MAX_SECRETS: Final = 2

Status = Literal["active", "disabled", "deleted"]


class Unset(enum.Enum):
    """A change that was not asked for (unlike `None`, which may be a value)."""

    UNSET = enum.auto()


UNSET: Final = Unset.UNSET


@dataclass(frozen=True, slots=True)
class Subscription:
    """A recipient's webhook: where to push, which event types, signed with which secrets."""

    subscription_id: str
    recipient_id: str
    url: str
    #: The event types it wants; None: every type the recipient is entitled to.
    event_types: tuple[str, ...] | None
    format: str
    #: Standard Webhooks signing secrets (`whsec_…`), newest first.
    secrets: tuple[str, ...] = field(repr=False)
    status: Status
    status_reason: str | None
    created_at: datetime
    updated_at: datetime
    #: The body version of the `json` format (`hub.services.webhook_payload`).
    payload_version: int = DEFAULT_PAYLOAD_VERSION
    #: `v1` (HMAC with `secrets`) and/or `v1a` (Ed25519 with the hub's published keys).
    signature_schemes: tuple[str, ...] = DEFAULT_SIGNATURE_SCHEMES

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class SubscriptionRepository(Protocol):
    """Where subscriptions are kept (`subscriptions`; rows are never deleted, for the audit)."""

    async def add(self, subscription: Subscription) -> None: ...

    async def get(self, subscription_id: str) -> Subscription | None: ...

    async def list_for(self, recipient_id: str, *, include_deleted: bool) -> list[Subscription]:
        """The recipient's subscriptions, oldest first."""
        ...

    async def change(
        self, subscription_id: str, change: Callable[[Subscription], Subscription]
    ) -> Subscription:
        """Read the subscription (locked against concurrent changes), apply `change` and store
        what it returns, in one transaction; an error from `change` changes nothing. When the
        change takes it out of `active`, its pending delivery jobs are cancelled in the same
        transaction. `NotFound` when there is no such subscription."""
        ...


class AddressResolver(Protocol):
    """Resolves host names (DNS), so that a name cannot hide an internal address."""

    async def resolve(self, host: str, port: int) -> list[str]:
        """Every address `host` resolves to; [] when it does not resolve."""
        ...


#: The event types a recipient could ever be entitled to; None when it is not a recipient.
Entitlements = Callable[[str], frozenset[str] | None]


def entitled_event_types(bundle: PolicyBundle, recipient_id: str) -> frozenset[str] | None:
    """The event types a permit rule of `bundle` could disclose to `recipient_id`: those of a
    rule whose `share_with` names the recipient's role, and, for an establishment, those of a
    rule whose records follow the person into custody. None when it is not in the directory."""
    recipient = bundle.directory.get(recipient_id)
    if recipient is None:
        return None
    types: set[str] = set()
    for rule in bundle.rules:
        if rule.effect != "permit":
            continue
        by_role = any(selector.role == recipient.role for selector in rule.share_with)
        follows = rule.follows_person and recipient.role == "establishment"
        if by_role or follows:
            types.update(rule.on)
    return frozenset(types)


def _now() -> datetime:
    return datetime.now(UTC)


class SubscriptionService:
    """Creating, reading and changing a recipient's subscriptions, with every check."""

    def __init__(
        self,
        repository: SubscriptionRepository,
        resolver: AddressResolver,
        entitlements: Entitlements,
        *,
        require_https: bool,
        allow_private: bool,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._repository = repository
        self._resolver = resolver
        self._entitlements = entitlements
        self._require_https = require_https
        self._allow_private = allow_private
        self._clock = clock

    # -- reading ---------------------------------------------------------------------------------

    async def list_for(
        self, recipient_id: str, *, include_deleted: bool = False
    ) -> list[Subscription]:
        return await self._repository.list_for(recipient_id, include_deleted=include_deleted)

    async def get(self, recipient_id: str, subscription_id: str) -> Subscription:
        """The recipient's subscription; `NotFound` for another recipient's, as for none."""
        found = await self._repository.get(subscription_id)
        if found is None or found.recipient_id != recipient_id:
            raise _not_found(subscription_id)
        return found

    # -- changing --------------------------------------------------------------------------------

    async def create(
        self,
        recipient_id: str,
        *,
        url: str,
        event_types: Sequence[str] | None = None,
        format: str = "json",
        payload_version: int = DEFAULT_PAYLOAD_VERSION,
        signature_schemes: Sequence[str] = DEFAULT_SIGNATURE_SCHEMES,
    ) -> tuple[Subscription, str]:
        """A new active subscription and its signing secret (shown this once)."""
        entitled = self._entitled(recipient_id)
        problems: list[FieldProblem] = []
        target = await self._checked_url(url, problems)
        types = _checked_types(event_types, entitled, recipient_id, problems)
        _check_format(format, problems, entitled if types is None else frozenset(types))
        _check_payload_version(payload_version, problems)
        schemes = _checked_schemes(signature_schemes, problems)
        if problems:
            raise _invalid(problems)
        assert target is not None
        now = self._clock()
        secret = generate_secret()
        subscription = Subscription(
            subscription_id=f"sub_{random_ids.token_hex(12)}",
            recipient_id=recipient_id,
            url=target.url,
            event_types=types,
            format=format,
            secrets=(secret,),
            status="active",
            status_reason=None,
            created_at=now,
            updated_at=now,
            payload_version=payload_version,
            signature_schemes=schemes,
        )
        await self._repository.add(subscription)
        return subscription, secret

    async def update(
        self,
        recipient_id: str,
        subscription_id: str,
        *,
        url: str | Unset = UNSET,
        event_types: Sequence[str] | Unset | None = UNSET,
        format: str | Unset = UNSET,
        status: Literal["active", "disabled"] | Unset = UNSET,
        drop_previous_secrets: bool = False,
        payload_version: int | Unset = UNSET,
        signature_schemes: Sequence[str] | Unset = UNSET,
    ) -> Subscription:
        """Change what was asked and nothing else. Re-enabling (`status="active"`) checks the
        URL again; `drop_previous_secrets` ends a rotation, keeping only the newest secret."""
        current = await self.get(recipient_id, subscription_id)
        problems: list[FieldProblem] = []
        new_url: str | Unset = UNSET
        if not isinstance(url, Unset) or status == "active":
            target = await self._checked_url(
                current.url if isinstance(url, Unset) else url, problems
            )
            if target is not None:
                new_url = target.url
        new_types: tuple[str, ...] | Unset | None = UNSET
        if not isinstance(event_types, Unset):
            entitled = self._entitled(recipient_id)
            new_types = _checked_types(event_types, entitled, recipient_id, problems)
        if not isinstance(format, Unset) or not isinstance(new_types, Unset):
            # The format must carry some of what the subscription will receive after the change.
            types = current.event_types if isinstance(new_types, Unset) else new_types
            _check_format(
                current.format if isinstance(format, Unset) else format,
                problems,
                self._entitled(recipient_id) if types is None else frozenset(types),
            )
        if not isinstance(payload_version, Unset):
            _check_payload_version(payload_version, problems)
        new_schemes: tuple[str, ...] | Unset = UNSET
        if not isinstance(signature_schemes, Unset):
            new_schemes = _checked_schemes(signature_schemes, problems)
        if problems:
            raise _invalid(problems)
        now = self._clock()

        def apply(subscription: Subscription) -> Subscription:
            _check_owned(subscription, recipient_id)
            _check_not_deleted(subscription)
            changed = subscription
            if not isinstance(payload_version, Unset):
                changed = replace(changed, payload_version=payload_version)
            if not isinstance(new_schemes, Unset):
                changed = replace(changed, signature_schemes=new_schemes)
            if not isinstance(new_url, Unset):
                changed = replace(changed, url=new_url)
            if not isinstance(new_types, Unset):
                changed = replace(changed, event_types=new_types)
            if not isinstance(format, Unset):
                changed = replace(changed, format=format)
            if drop_previous_secrets:
                changed = replace(changed, secrets=changed.secrets[:1])
            if not isinstance(status, Unset) and status != changed.status:
                reason = None if status == "active" else "disabled by the recipient"
                changed = replace(changed, status=status, status_reason=reason)
            return replace(changed, updated_at=now) if changed != subscription else subscription

        return await self._repository.change(subscription_id, apply)

    async def disable(
        self, recipient_id: str, subscription_id: str, *, reason: str = "disabled by the recipient"
    ) -> Subscription:
        """Stop pushing to it (its pending jobs are cancelled); `PATCH status=active` undoes."""
        await self.get(recipient_id, subscription_id)
        now = self._clock()

        def apply(subscription: Subscription) -> Subscription:
            _check_owned(subscription, recipient_id)
            _check_not_deleted(subscription)
            if subscription.status == "disabled":
                return subscription
            return replace(subscription, status="disabled", status_reason=reason, updated_at=now)

        return await self._repository.change(subscription_id, apply)

    async def delete(self, recipient_id: str, subscription_id: str) -> Subscription:
        """Mark it deleted for good (the row stays, for the audit; its secrets do not); its
        pending jobs are cancelled. Deleting a deleted subscription changes nothing."""
        await self.get(recipient_id, subscription_id)
        now = self._clock()

        def apply(subscription: Subscription) -> Subscription:
            _check_owned(subscription, recipient_id)
            if subscription.status == "deleted":
                return subscription
            return replace(
                subscription,
                status="deleted",
                status_reason="deleted by the recipient",
                secrets=(),
                updated_at=now,
            )

        return await self._repository.change(subscription_id, apply)

    async def rotate_secret(
        self, recipient_id: str, subscription_id: str
    ) -> tuple[Subscription, str]:
        """A new signing secret, put first; the newest of the old ones keeps signing too until
        it is dropped (`PATCH drop_previous_secrets`), so that the receiver can switch over."""
        await self.get(recipient_id, subscription_id)
        secret = generate_secret()
        now = self._clock()

        def apply(subscription: Subscription) -> Subscription:
            _check_owned(subscription, recipient_id)
            _check_not_deleted(subscription)
            kept = (secret, *subscription.secrets)[:MAX_SECRETS]
            return replace(subscription, secrets=kept, updated_at=now)

        return await self._repository.change(subscription_id, apply), secret

    # -- checks ----------------------------------------------------------------------------------

    def _entitled(self, recipient_id: str) -> frozenset[str]:
        entitled = self._entitlements(recipient_id)
        if entitled is None:
            raise PermissionDenied(
                f"{recipient_id} is not a recipient in the policy bundle's directory, so nothing "
                "can be pushed to it"
            )
        return entitled

    async def _checked_url(self, url: str, problems: list[FieldProblem]) -> WebhookTarget | None:
        """The URL, if the hub may call it; otherwise None, with the problem added."""
        try:
            return await self.check_url(url)
        except RefusedUrl as refused:
            problems.append(FieldProblem("/url", f"the webhook URL {refused}"))
            return None

    async def check_url(self, url: str) -> WebhookTarget:
        """The URL's shape, then every address its host resolves to. RefusedUrl if not."""
        target = parse_webhook_url(
            url, require_https=self._require_https, allow_private=self._allow_private
        )
        if literal_address(target.host) is not None:
            return target
        addresses = await self._resolver.resolve(target.host, target.port)
        if not addresses:
            raise RefusedUrl(f"names a host that does not resolve ({target.host})")
        if not self._allow_private:
            for address in addresses:
                problem = address_problem(address)
                if problem is not None:
                    raise internal_address_refused(
                        f"names a host ({target.host}) that resolves to {problem}"
                    )
        return target


def _checked_types(
    event_types: Sequence[str] | None,
    entitled: frozenset[str],
    recipient_id: str,
    problems: list[FieldProblem],
) -> tuple[str, ...] | None:
    if event_types is None:
        return None
    if not event_types:
        problems.append(
            FieldProblem("/event_types", "name at least one event type, or leave it out for all")
        )
        return None
    for index, event_type in enumerate(event_types):
        if event_type not in entitled:
            problems.append(
                FieldProblem(
                    f"/event_types/{index}",
                    f"{recipient_id} can never be entitled to {event_type} under the policy in "
                    f"force; it may be sent: {_listed(entitled)}",
                )
            )
    return tuple(sorted(set(event_types)))


def renderable_types(format: str) -> frozenset[str] | None:
    """The event types `format` can carry; None for every type (`json`)."""
    native = _NATIVE_FORMATS.get(format)
    return None if native is None else native.renderable_types


def _check_format(format: str, problems: list[FieldProblem], types: frozenset[str]) -> None:
    """`format` must be known and carry at least one of `types` (those the subscription would
    receive); a type it cannot carry is sent as `json`."""
    if format not in known_formats():
        problems.append(
            FieldProblem("/format", f"unknown format {format!r}; known: {_listed(known_formats())}")
        )
        return
    renderable = renderable_types(format)
    if renderable is not None and not renderable & types:
        problems.append(
            FieldProblem(
                "/format",
                f"{format} can carry only {_listed(renderable)}, and this subscription would "
                f"receive none of them (it would receive: {_listed(types)}); choose json, or "
                "event types the format can carry",
            )
        )


def _check_payload_version(version: int, problems: list[FieldProblem]) -> None:
    if version not in PAYLOAD_VERSIONS:
        problems.append(
            FieldProblem(
                "/payload_version",
                f"unknown payload version {version!r}; one of "
                f"{', '.join(map(str, PAYLOAD_VERSIONS))}",
            )
        )


def _checked_schemes(schemes: Sequence[str], problems: list[FieldProblem]) -> tuple[str, ...]:
    """The schemes in their canonical order (`v1`, then `v1a`), each once; at least one."""
    if not schemes:
        problems.append(
            FieldProblem(
                "/signature_schemes",
                f"name at least one signature scheme: {', '.join(SIGNATURE_SCHEMES)}",
            )
        )
    for index, scheme in enumerate(schemes):
        if scheme not in SIGNATURE_SCHEMES:
            problems.append(
                FieldProblem(
                    f"/signature_schemes/{index}",
                    f"unknown signature scheme {scheme!r}; one of {', '.join(SIGNATURE_SCHEMES)}",
                )
            )
    return tuple(scheme for scheme in SIGNATURE_SCHEMES if scheme in schemes)


def _listed(names: Iterable[str]) -> str:
    ordered = sorted(names)
    return ", ".join(ordered) if ordered else "(nothing)"


def _invalid(problems: list[FieldProblem]) -> InvalidRequest:
    return InvalidRequest(
        "the subscription is invalid: " + "; ".join(f"{p.pointer}: {p.message}" for p in problems),
        problems,
    )


def _not_found(subscription_id: str) -> NotFound:
    return NotFound(f"you have no subscription {subscription_id}")


def _check_owned(subscription: Subscription, recipient_id: str) -> None:
    if subscription.recipient_id != recipient_id:
        raise _not_found(subscription.subscription_id)


def _check_not_deleted(subscription: Subscription) -> None:
    if subscription.status == "deleted":
        raise Conflict(f"subscription {subscription.subscription_id} is deleted")
