"""What an operator watches besides the workers' own state: the webhook outbox (queue depth,
jobs failing, dead letters), the audit sequencer's lag and the age of the latest signed
checkpoint; and the port that reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = ["OperationalGauges", "OperationalGaugesReader"]


@dataclass(frozen=True, slots=True)
class OperationalGauges:
    """One reading of the hub's backlog, taken in one statement."""

    #: Webhook jobs waiting to be delivered (status pending), retries included.
    delivery_queue: int
    #: Of those, jobs whose last attempt failed (waiting for a retry).
    deliveries_failing: int
    #: Jobs given up on after the retry schedule (the dead-letter queue).
    dead_letters: int
    #: Audit entries written but not yet in the Merkle tree (positions behind the head).
    audit_sequencer_lag: int
    #: When the latest audit checkpoint was signed (None: none yet).
    checkpoint_signed_at: datetime | None


class OperationalGaugesReader(Protocol):
    async def operational_gauges(self) -> OperationalGauges: ...
