"""Webhook bodies in the `json` format, by payload version (a subscription chooses):

    2  Standard Webhooks: {"type", "timestamp", "data": {"disclosure", "notification"}}
       (the default for new subscriptions)
    1  {"disclosure", "notification"}: the body before version 2, kept for the subscribers that
       read it (every subscription made before migration 0017)

Native formats (`pr2-json`, …) are their own bodies and have no payload version.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from hub.services.delivery import DeliveryJob

__all__ = [
    "DEFAULT_PAYLOAD_VERSION",
    "LEGACY_PAYLOAD_VERSION",
    "PAYLOAD_VERSIONS",
    "disclosure_terms",
    "render_json",
]

#: Every payload version a subscription may choose.
PAYLOAD_VERSIONS: Final = (1, 2)
#: What a new subscription gets unless it asks otherwise.
DEFAULT_PAYLOAD_VERSION: Final = 2
#: What subscriptions made before payload versions existed keep (migration 0017).
LEGACY_PAYLOAD_VERSION: Final = 1


def disclosure_terms(job: DeliveryJob) -> dict[str, Any]:
    """Why and under what terms the notification was shared (the same in every version)."""
    acknowledge_by = job.acknowledge_by
    return {
        "id": job.disclosure_id,
        "recipient_seq": job.recipient_seq,
        "event_type": job.event_type,
        "person_id": job.person_id,
        "purposes": list(job.purposes),
        "legal_bases": list(job.legal_bases),
        "rules": list(job.rules),
        "policy_version": job.policy_version,
        "decided_at": job.decided_at.astimezone(UTC).isoformat(),
        "acknowledge_by": None if acknowledge_by is None else acknowledge_by.isoformat(),
    }


def render_json(job: DeliveryJob, notification: Mapping[str, Any]) -> bytes:
    """The `json` format in the job's payload version: the redacted CloudEvent (only the granted
    fields) and the terms of its disclosure; in version 2 inside the Standard Webhooks envelope,
    typed by the notification's type and stamped with the time of the disclosure decision."""
    content = {"disclosure": disclosure_terms(job), "notification": notification}
    document: Mapping[str, Any]
    if job.payload_version == 1:
        document = content
    elif job.payload_version == 2:
        document = {
            "type": job.event_type,
            "timestamp": job.decided_at.astimezone(UTC).isoformat(),
            "data": content,
        }
    else:
        raise ValueError(f"unknown webhook payload version {job.payload_version}")
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
