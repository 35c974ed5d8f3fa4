"""Every error the hub raises on purpose, in one hierarchy.

    HubError
    ├── InvalidInput                 bad input from a caller; nothing was changed      (400/422)
    │   ├── InvalidNotification      a notification failed its schema; names each field (422)
    │   ├── UnknownEventType         no schema for that type and version               (422)
    │   ├── BatchRejected            a batch had bad items; names index and field      (422)
    │   ├── PayloadTooLarge          the body is over the size limit                   (413)
    │   ├── UnsupportedMediaType     the body is not JSON                              (415)
    │   ├── InvalidRequest           a request (not a notification) is invalid; names
    │   │                            each field                                         (422)
    │   └── PolicyBundleInvalid      a policy bundle failed validation; lists each
    │                                `file:line: message` (the hub refuses to start)
    ├── Conflict                     the request contradicts what is stored            (409)
    │   ├── StreamVersionConflict    expected stream version is not the current one
    │   ├── EventIdReused            same (source, id) with different content
    │   └── IdentifierConflict       identifiers that belong to two different people, or a
    │                                second value of a single-valued scheme for one person
    ├── NotFound                                                                        (404)
    ├── AuthenticationFailed         no, bad or expired credentials or token            (401)
    ├── PermissionDenied             authenticated, but not allowed                     (403)
    ├── TooManyRequests              over a limit on what one client may hold open;
    │                                says when to try again (Retry-After)              (429)
    ├── StoreError                   the database failed; infrastructure errors are translated
    │   └── StoreUnavailable         to this where they are caught                      (503)
    └── BusError                     the event bus (Kafka) failed; the cause is kept   (503)
        ├── BusUnavailable           the broker cannot be reached right now            (503)
        └── MalformedMessage         a message on a hub topic is not one the hub can read

The API maps each class to an RFC 9457 problem document (`hub.api.problems`); the CLI prints
the message and exits non-zero. Nothing is swallowed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One thing wrong with one field, located by a JSON Pointer (RFC 6901) into the input."""

    pointer: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"pointer": self.pointer, "detail": self.message}


class HubError(Exception):
    """Base of every error the hub raises on purpose."""

    title = "Hub error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(HubError):
    title = "Invalid input"


class InvalidNotification(InvalidInput):
    title = "Invalid notification"

    def __init__(self, message: str, problems: list[FieldProblem]) -> None:
        super().__init__(message)
        self.problems = problems


class UnknownEventType(InvalidNotification):
    title = "Unknown event type"


@dataclass(frozen=True, slots=True)
class BatchItemProblem:
    index: int
    problem: FieldProblem


class BatchRejected(InvalidInput):
    title = "Batch rejected"

    def __init__(self, message: str, problems: list[BatchItemProblem]) -> None:
        super().__init__(message)
        self.problems = problems


class PayloadTooLarge(InvalidInput):
    title = "Payload too large"


class UnsupportedMediaType(InvalidInput):
    title = "Unsupported media type"


class MalformedJson(InvalidInput):
    """A body, token or assertion that is not JSON the hub will parse (too deep, a number too
    long, a forbidden character in a string): every problem, each with its JSON Pointer."""

    def __init__(self, message: str, problems: list[FieldProblem]) -> None:
        super().__init__(message)
        self.problems = problems


class InvalidRequest(InvalidInput):
    """A request other than a notification (a subscription, say) that cannot be carried out as
    asked: every problem, each with the JSON Pointer of its field."""

    title = "Invalid request"

    def __init__(self, message: str, problems: list[FieldProblem]) -> None:
        super().__init__(message)
        self.problems = problems


class PolicyBundleInvalid(InvalidInput):
    """A policy bundle that cannot be used: every problem found, each as `file:line: message`."""

    title = "Invalid policy bundle"

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


class Conflict(HubError):
    title = "Conflict"


class StreamVersionConflict(Conflict):
    title = "Stream version conflict"

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(
            f"stream {stream_id} is at version {actual}, not the expected version {expected}"
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class EventIdReused(Conflict):
    title = "Event id reused"


class IdentifierConflict(Conflict):
    """A notification the subject index cannot file without merging or doubling an identity:
    its identifiers belong to two different people (`TWO_PEOPLE`), or it would give a person a
    second value of a single-valued scheme (`SECOND_VALUE`). The message names the schemes and
    the publisher's own identifiers only; `claims` (for the review list, never for the
    publisher) says whom the subject index holds them for."""

    title = "Identifier conflict"

    TWO_PEOPLE = "two-people"
    SECOND_VALUE = "second-value"

    def __init__(
        self,
        message: str,
        claims: dict[str, str] | None = None,
        *,
        kind: str = TWO_PEOPLE,
        schemes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        #: Each identifier ("scheme:value") and the person it already belongs to.
        self.claims = claims or {}
        #: `TWO_PEOPLE` or `SECOND_VALUE`.
        self.kind = kind
        #: The schemes the conflict is about (what the publisher is told; never the values).
        self.schemes = schemes
        #: The (source, id) of the notification that carried them, once known.
        self.event_key: tuple[str, str] | None = None
        #: The review-list entry the conflict was recorded as, once it has been.
        self.review_id: str | None = None


class NotFound(HubError):
    title = "Not found"


class AuthenticationFailed(HubError):
    title = "Authentication failed"


class PermissionDenied(HubError):
    title = "Permission denied"


class PublisherNotEntitled(PermissionDenied):
    """A notification whose body names a unit (an establishment, an area, a health board) that
    the publishing agency may not speak for: each such field, by JSON Pointer."""

    def __init__(self, message: str, problems: list[FieldProblem]) -> None:
        super().__init__(message)
        self.problems = problems


class TooManyRequests(HubError):
    title = "Too many requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        #: Seconds the caller should wait before trying again (the `Retry-After` header).
        self.retry_after = retry_after


class StoreError(HubError):
    title = "Store error"


class StoreUnavailable(StoreError):
    title = "Store unavailable"


class BusError(HubError):
    """The event bus failed (a broker refused or lost a request); the cause is kept."""

    title = "Event bus error"


class BusUnavailable(BusError):
    """The event bus cannot be reached right now: waiting and trying again may succeed."""

    title = "Event bus unavailable"


class MalformedMessage(BusError):
    """A message on the events topic is not a stored event this hub can read."""

    title = "Malformed bus message"
