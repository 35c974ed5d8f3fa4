"""Case-by-case review (policies/README.md, "Review"): a rule whose disclosures a reviewer of the
disclosing side must approve, one by one, before the recipient receives them.

```yaml
    review:
      by: mappa-coordinator            # the role of the reviewer (a directory role)
      area: profile.mappa_area         # chooses the reviewer, like `share_with` (optional)
      escalate_after: 2d               # an undecided proposal escalates after this (optional)
```

A permitted decision any of whose matching permit rules carries `review` is a **proposal**: the
router records it, but it enters no feed, webhook or Kafka channel until a reviewer approves it
(`hub.services.reviews`). The reviewers are the directory's recipients of role `by` serving the
area at `area` (all of that role without `area`), resolved when the decision is made.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol

from hub.domain.policy.conditions import ValuePath, lookup

if TYPE_CHECKING:
    from hub.domain.policy.directory import Directory

__all__ = ["REVIEW_KEYS", "Review", "ReviewRequest", "read_review", "review_request"]

#: The keys of a rule's `review` mapping.
REVIEW_KEYS: Final = ("by", "area", "escalate_after")


@dataclass(frozen=True, slots=True)
class Review:
    """A rule's `review`: who reviews its disclosures, and when an undecided one escalates."""

    by: str
    area: ValuePath | None
    escalate_after: timedelta | None
    line: int

    def describe(self) -> str:
        """One line for the rule's Cedar annotation and explanations."""
        parts = [self.by]
        if self.area is not None:
            parts.append(f"area={self.area}")
        if self.escalate_after is not None:
            minutes = int(self.escalate_after.total_seconds() // 60)
            parts.append(f"escalate_after={minutes}m")
        return " ".join(parts)


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """What a permitted decision under reviewed rules carries: the reviewed rules, who may
    approve or decline it (recipient ids of the disclosing side), and when it escalates."""

    rules: tuple[str, ...]
    reviewers: tuple[str, ...]
    escalate_after: timedelta | None


class _Reader(Protocol):
    """What `read_review` needs of `hub.domain.policy.rules.RuleReader`."""

    roles: list[tuple[str, int]]

    def add(self, line: int, message: str) -> None: ...

    def path(
        self, text: Any, line: int, on: tuple[str, ...], *, lists: bool
    ) -> ValuePath | None: ...


def read_review(
    reader: _Reader,
    node: Any,
    on: tuple[str, ...],
    effect: str,
    parse_duration: Callable[[str], timedelta | None],
) -> Review | None:
    """The rule `node`'s `review` (None when it has none), every problem added to `reader`
    at its line."""
    if "review" not in node:
        return None
    value, line = node["review"], node.line_of("review")
    if effect == "forbid":
        reader.add(line, "a forbid rule discloses nothing, so it has nothing to review")
        return None
    if not isinstance(value, Mapping) or not hasattr(value, "line_of"):
        reader.add(
            line, "`review` must be a mapping with `by` (and optionally `area`, `escalate_after`)"
        )
        return None
    unknown = [key for key in value if key not in REVIEW_KEYS]
    for key in unknown:
        reader.add(
            value.line_of(key), f"unknown key `{key}` in `review`; keys: {', '.join(REVIEW_KEYS)}"
        )
    by = value.get("by")
    if not isinstance(by, str) or not by:
        reader.add(
            value.line_of("by") if "by" in value else line,
            "`review` needs `by`: the role of the reviewer",
        )
        by = None
    else:
        reader.roles.append((by, value.line_of("by")))
    area = None
    if "area" in value:
        area = reader.path(value["area"], value.line_of("area"), on, lists=False)
        if area is None:
            return None
    escalate_after = None
    if "escalate_after" in value:
        raw = value["escalate_after"]
        escalate_after = parse_duration(raw) if isinstance(raw, str) else None
        if escalate_after is None:
            reader.add(
                value.line_of("escalate_after"),
                "`escalate_after` must be a duration such as 30m, 4h or 2d",
            )
            return None
    if by is None or unknown:
        return None
    return Review(by, area, escalate_after, line)


def review_request(
    reviews: Iterable[tuple[str, Review | None]],
    view: Mapping[str, Any],
    directory: Directory,
) -> ReviewRequest | None:
    """The review a permitted decision needs, from its permit rules' (id, review): None when
    none of them is reviewed. Every reviewed rule's reviewers may decide; the shortest
    `escalate_after` applies."""
    rules: list[str] = []
    reviewers: dict[str, None] = {}
    times: list[timedelta] = []
    for rule_id, review in reviews:
        if review is None:
            continue
        rules.append(rule_id)
        if review.escalate_after is not None:
            times.append(review.escalate_after)
        if review.area is None:
            found = directory.by_role(review.by)
        else:
            area = lookup(view, review.area)
            found = directory.serving(review.by, area) if isinstance(area, str) else []
        reviewers.update(dict.fromkeys(r.id for r in found))
    if not rules:
        return None
    return ReviewRequest(
        rules=tuple(rules),
        reviewers=tuple(sorted(reviewers)),
        escalate_after=min(times) if times else None,
    )
