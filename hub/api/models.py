"""Response bodies of the HTTP API (request bodies are notifications, validated by schema)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from hub.domain.notifications import AppendResult, StoredEvent


class AcceptedNotification(BaseModel):
    """What the hub did with one pushed notification."""

    id: str = Field(description="The notification's id, as pushed")
    source: str = Field(description="The notification's source, as pushed")
    position: int = Field(description="Its position in the hub's global order")
    person_id: str = Field(description="The hub's reference for the person it is about")
    stream_version: int = Field(description="Its version in that person's stream")
    duplicate: bool = Field(description="True when it had already been stored; nothing changed")

    @classmethod
    def of(cls, result: AppendResult) -> AcceptedNotification:
        return cls(
            id=result.id,
            source=result.source,
            position=result.position,
            person_id=result.person_id,
            stream_version=result.stream_version,
            duplicate=result.duplicate,
        )


class AcceptedBatch(BaseModel):
    accepted: int = Field(description="How many notifications were newly stored")
    duplicates: int = Field(description="How many had already been stored")
    results: list[AcceptedNotification]


class StoredNotification(BaseModel):
    """A stored notification as its publisher sees it: the envelope and where it was stored."""

    position: int
    person_id: str
    stream_version: int
    recorded_at: datetime
    publisher_client_id: str
    notification: dict[str, Any]

    @classmethod
    def of(cls, event: StoredEvent) -> StoredNotification:
        envelope = event.notification.to_envelope()
        return cls(
            position=event.position,
            person_id=event.person_id,
            stream_version=event.stream_version,
            recorded_at=event.recorded_at,
            publisher_client_id=event.publisher.client_id,
            notification=envelope,
        )


class WorkerHealth(BaseModel):
    """One background worker, as `hub.services.worker.WorkerStatus` describes it."""

    state: str
    since: datetime
    failures: int
    retries: int
    last_error: str | None = None
    lag: int | None = None


class Health(BaseModel):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)
    workers: dict[str, WorkerHealth] = Field(default_factory=dict)
