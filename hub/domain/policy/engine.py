"""The policy bundle: loaded and validated as a whole, then asked who may receive a notification,
which of its fields, and why (policies/README.md).

Candidates come from the `share_with` of the rules on the notification's type, resolved through
the directory; Cedar decides each one; the Python condition evaluator explains denials.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Final

from hub.domain.notifications import Notification
from hub.domain.person.authority import Authorities
from hub.domain.policy.basis_checks import check_bases, sensitivity
from hub.domain.policy.categories import CategoryIndex, category_index, special_values
from hub.domain.policy.cedar import CedarOutcome, CedarPolicies, CompileError
from hub.domain.policy.conditions import (
    ConditionResult,
    Kind,
    ValuePath,
    ViewShape,
    evaluate_conditions,
    lookup,
    paths_of,
)
from hub.domain.policy.decision_cache import DecisionCache, DirectoryEpochs
from hub.domain.policy.directory import (
    DIRECTORY_FILE,
    ROLES,
    Directory,
    Recipient,
    read_directory,
)
from hub.domain.policy.legal import (
    EMPTY_REGISTER,
    LEGAL_FILE,
    LegalRegister,
    read_legal,
    resolve_basis,
)
from hub.domain.policy.redaction import envelope, withheld
from hub.domain.policy.redaction import redact as redact_envelope
from hub.domain.policy.review import ReviewRequest, review_request
from hub.domain.policy.rules import (
    UNREADABLE,
    Problems,
    RuleReader,
    SchemaIndex,
    SharingRule,
    YamlMap,
    check_keys,
    format_duration,
    load_yaml,
    text_value,
)
from hub.domain.policy.special import Grant, guard
from hub.domain.policy.statuses import STATUSES_FILE, read_statuses
from hub.domain.policy.testing import TestCase, TestCaseChecks, read_test_file
from hub.domain.policy.validity import day_of
from hub.domain.schemas import SchemaRegistry
from hub.errors import PolicyBundleInvalid

_NO_PATHS: Final = ViewShape(())
#: How many distinct decision keys `evaluate` remembers (a few hundred bytes each).
_DECISION_CACHE_SIZE: Final = 4096

BUNDLE_FILE: Final = "bundle.yaml"
#: A retention period: a whole number of (365-day) years or days.
_PERIOD: Final = re.compile(r"([0-9]{1,5})([yd])")
RULES_DIR: Final = "rules/"
TESTS_DIR: Final = "tests/"


@dataclass(frozen=True, slots=True)
class RecipientDecision:
    """Whether one candidate may receive the notification, what of it, and why."""

    recipient_id: str
    permitted: bool
    #: Granted envelope paths, sorted; () when denied.
    fields: tuple[str, ...]
    #: Permitted: the permit rules that matched. Denied: the rules that proposed this candidate.
    rules: tuple[str, ...]
    #: Permitted: of the permit rules that matched. Denied by forbid rules: of those rules.
    purposes: tuple[str, ...]
    #: Each rule's `LegalBasis.citation`, as `purposes`.
    legal_bases: tuple[str, ...]
    #: The shortest acknowledgement time among the permit rules that matched.
    acknowledge_within: timedelta | None
    #: Denied: for each proposing rule why it did not apply, and each forbid rule that matched.
    reasons: tuple[str, ...]
    #: Permitted under a rule with `review`: a proposal for a reviewer to decide, not delivered.
    review: ReviewRequest | None = None
    #: Special-category paths granted but withheld for want of consent or a justification,
    #: each as `path (categories)` (`special.guard`).
    special_withheld: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The decisions about one notification, made by one version of the bundle."""

    policy_version: str
    #: One per candidate recipient, sorted by recipient id.
    decisions: tuple[RecipientDecision, ...]

    @property
    def permitted(self) -> tuple[RecipientDecision, ...]:
        return tuple(d for d in self.decisions if d.permitted)

    @property
    def denied(self) -> tuple[RecipientDecision, ...]:
        return tuple(d for d in self.decisions if not d.permitted)


def bundle_version(files: Mapping[str, bytes]) -> str:
    """SHA-256 over the bundle's files, sorted by path, each as `path\\0content\\0`."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode("utf-8") + b"\0" + files[path] + b"\0")
    return digest.hexdigest()


def read_bundle_files(path: Path) -> dict[str, bytes]:
    """Every file of the bundle at `path` by its path inside the bundle (`rules/release.yaml`).
    Hidden files and folders (editor and VCS litter) are not part of a bundle."""
    if not path.is_dir():
        raise PolicyBundleInvalid(
            f"no policy bundle at {path}", [f"{path}:1: not a folder holding a policy bundle"]
        )
    files = {}
    for file in sorted(path.rglob("*")):
        relative = file.relative_to(path)
        if file.is_file() and not any(part.startswith(".") for part in relative.parts):
            files[relative.as_posix()] = file.read_bytes()
    return files


class PolicyBundle:
    """A loaded, validated policy bundle. Build it with `PolicyBundle.load`."""

    def __init__(
        self,
        *,
        name: str,
        description: str,
        version: str,
        directory: Directory,
        rules: Sequence[SharingRule],
        test_cases: Sequence[TestCase],
        origin: str,
        shapes: Mapping[str, ViewShape],
        cedar: CedarPolicies,
        statuses: Authorities,
        categories: CategoryIndex,
        retention: Mapping[str, timedelta] | None = None,
        legal: LegalRegister = EMPTY_REGISTER,
    ) -> None:
        self.name = name
        #: `legal.yaml`: the gateways, competent authorities and documents rules cite.
        self.legal = legal
        #: The schemas' data categories, for the special-category guard.
        self.categories = categories
        #: Which sources may begin, lower and end each status (`statuses.yaml`), for the fold.
        self.statuses = statuses
        #: How long each event type's personal data is kept after the event's `time`
        #: (`hub retention apply` erases it afterwards). Every event type is listed.
        self.retention: Mapping[str, timedelta] = dict(retention or {})
        self.description = description
        self.version = version
        self.directory = directory
        self.rules: tuple[SharingRule, ...] = tuple(rules)
        self.test_cases: tuple[TestCase, ...] = tuple(test_cases)
        #: Where the bundle was read from, as problems and test results name its files.
        self.origin = origin
        self._shapes = shapes
        self._cedar = cedar
        self._rules_by_id = {rule.id: rule for rule in self.rules}
        self._directory_epochs = DirectoryEpochs(directory)
        self._decided: DecisionCache[tuple[RecipientDecision, ...]] = DecisionCache(
            _DECISION_CACHE_SIZE
        )
        self._rules_by_type: dict[str, tuple[SharingRule, ...]] = {}
        for rule in self.rules:
            for event_type in rule.on:
                self._rules_by_type[event_type] = (*self._rules_by_type.get(event_type, ()), rule)

    # -- loading -------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path, schemas: SchemaRegistry) -> PolicyBundle:
        """Read and validate the bundle at `path`.

        Raises PolicyBundleInvalid listing every problem as `file:line: message`."""
        return cls.from_files(read_bundle_files(path), schemas, origin=str(path))

    @classmethod
    def from_files(
        cls, files: Mapping[str, bytes], schemas: SchemaRegistry, *, origin: str = ""
    ) -> PolicyBundle:
        """Validate a bundle given as its files (path inside the bundle → content)."""
        problems = Problems()
        loader = _BundleFiles(files, origin, problems)
        index = SchemaIndex(schemas)
        name, description = loader.bundle_file()
        retention = loader.retention(index)
        statuses = loader.statuses()
        directory = loader.directory(index)
        rules, rule_ids = loader.rules(index)
        legal = loader.legal(index)
        if legal is not None:  # else legal.yaml's own problems say why; every id would follow
            check_bases(rules, legal, sensitivity(category_index(index)), problems)
        test_cases = loader.test_cases(index, directory, rule_ids)
        if problems:
            raise _invalid(origin, problems)
        try:
            shapes = {
                event_type: ViewShape(_paths_read([r for r in rules if event_type in r.on]))
                for event_type in index.event_types
            }
            cedar = CedarPolicies(rules, directory)
        except CompileError as error:
            for rule, message in error.problems:
                problems.add(rule.file, rule.line, message)
            raise _invalid(origin, problems) from None
        except ValueError as error:
            problems.add(loader.where(RULES_DIR), 1, str(error))
            raise _invalid(origin, problems) from None
        return cls(
            name=name,
            description=description,
            version=bundle_version(files),
            directory=directory,
            rules=rules,
            test_cases=test_cases,
            origin=origin,
            shapes=shapes,
            cedar=cedar,
            statuses=statuses,
            categories=CategoryIndex(index),
            retention=retention,
            legal=legal or EMPTY_REGISTER,
        )

    # -- decisions -----------------------------------------------------------------------------

    def decision_view(
        self,
        notification: Notification,
        profile: Mapping[str, Any],
        *,
        follows_person_to: str | None = None,
    ) -> dict[str, Any]:
        """What a decision about `notification` reads: the values at the paths the rules on its
        type name (`conditions.ViewShape`), as given to Cedar and to the Python evaluator."""
        shape = self._shapes.get(notification.type, _NO_PATHS)
        return shape.view(notification, profile, follows_person_to)

    def evaluate(
        self,
        notification: Notification,
        profile: Mapping[str, Any],
        *,
        follows_person_to: str | None = None,
    ) -> Evaluation:
        """Who may receive `notification`, judged with the person's `profile` as it stood once
        this notification was applied.

        `follows_person_to` (an establishment's recipient id) asks instead whether this earlier
        notification follows the person to the establishment now holding them: only rules with
        `follows_person: true` on its type count, and that establishment is the only candidate.

        The decisions before the special-category guard are remembered (`DecisionCache`): they
        depend only on what the key holds, so a notification whose view another one already had
        is decided without asking Cedar again; the guard, which reads the whole notification,
        runs every time."""
        view = self.decision_view(notification, profile, follows_person_to=follows_person_to)
        context = json.dumps(view)
        key = (
            notification.type,
            context,
            follows_person_to,
            self._directory_epochs.epoch(day_of(notification.time)),
        )
        decided = self._decided.get(key)
        if decided is None:
            decided = self._decide(notification, view, context, follows_person_to)[0]
            self._decided.put(key, decided)
        document = _Envelope(notification)
        return Evaluation(
            self.version,
            tuple(self._guarded(d, notification, profile, document) for d in decided),
        )

    def _evaluate(
        self,
        notification: Notification,
        profile: Mapping[str, Any],
        follows_person_to: str | None,
    ) -> tuple[Evaluation, _Workings]:
        """As `evaluate`, never from the cache, with what it worked out (for `explain`)."""
        view = self.decision_view(notification, profile, follows_person_to=follows_person_to)
        decided, workings = self._decide(notification, view, json.dumps(view), follows_person_to)
        document = _Envelope(notification)
        decisions = tuple(self._guarded(d, notification, profile, document) for d in decided)
        return Evaluation(self.version, decisions), workings

    def _decide(
        self,
        notification: Notification,
        view: Mapping[str, Any],
        context: str,
        follows_person_to: str | None,
    ) -> tuple[tuple[RecipientDecision, ...], _Workings]:
        """The decisions on `notification` before the special-category guard: a function of
        its type, its decision `view` (`context` is the view as JSON), `follows_person_to` and
        the directory as it stood on its day, and of nothing else."""
        rules = self._rules_by_type.get(notification.type, ())
        proposals: dict[str, list[str]] = {}
        if follows_person_to is None:
            for rule in rules:
                # Two items of one `share_with` may name the same recipient: it is proposed once.
                proposed = self._proposed(rule, view, day_of(notification.time))
                for recipient_id in dict.fromkeys(r.id for r in proposed):
                    proposals.setdefault(recipient_id, []).append(rule.id)
        else:
            if self.directory.get(follows_person_to) is None:
                raise LookupError(f"{follows_person_to} is not in the directory of {self.name}")
            rules = tuple(r for r in rules if r.follows_person or r.effect == "forbid")
            followers = [r.id for r in rules if r.follows_person]
            if followers:
                proposals[follows_person_to] = followers
        candidates = sorted(proposals)
        outcomes = self._cedar.decide(notification, view, candidates, context=context)
        workings = _Workings(view, rules, proposals, {}, follows_person_to)
        return tuple(self._decision(outcome, workings) for outcome in outcomes), workings

    def _guarded(
        self,
        decision: RecipientDecision,
        notification: Notification,
        profile: Mapping[str, Any],
        document: _Envelope,
    ) -> RecipientDecision:
        """`decision` less the special-category values no consent or justification covers
        (`special.guard`); denied when none of the `data` it was granted is left."""
        if not decision.permitted:
            return decision
        special = document.special(self.categories)
        if not special:
            # Nothing special in the notification: the guard would withhold nothing.
            return decision
        rules = [self._rules_by_id[rule_id] for rule_id in decision.rules]
        # A basis resting on consent (s35(4), Art 9(2)(a)) is covered by `health_consent` below.
        grants = [
            Grant(
                r.id, r.fields, r.legal_basis is not None and r.legal_basis.justifies_special_data
            )
            for r in rules
        ]
        guarded = guard(
            self.categories,
            notification.type,
            document.document,
            grants,
            health_consent=profile.get("health_consent") is True,
            special=special,
        )
        if not guarded.withheld:
            return decision
        if guarded.data_left or not any(f.startswith("data") for f in decision.fields):
            return replace(decision, fields=guarded.fields, special_withheld=guarded.withheld)
        return replace(
            decision,
            permitted=False,
            fields=(),
            purposes=(),
            legal_bases=(),
            acknowledge_within=None,
            reasons=(
                "special-category data withheld (no recorded consent, and no rule granting it "
                "records a justification for it): " + "; ".join(guarded.withheld),
                "nothing of the data granted is left to disclose",
            ),
            special_withheld=guarded.withheld,
        )

    def _proposed(self, rule: SharingRule, view: Mapping[str, Any], on: date) -> list[Recipient]:
        """The recipients `rule`'s `share_with` names for this notification, as the directory
        stood on `on` (the notification's day)."""
        found: list[Recipient] = []
        for selector in rule.share_with:
            if selector.area is not None:
                area = lookup(view, selector.area)
                if isinstance(area, str):
                    found.extend(self.directory.serving(selector.role, area, on=on))
            elif selector.recipient is not None:
                recipient_id = lookup(view, selector.recipient)
                recipient = (
                    self.directory.get(recipient_id, on=on)
                    if isinstance(recipient_id, str)
                    else None
                )
                if recipient is not None and recipient.role == selector.role:
                    found.append(recipient)
            else:
                found.extend(self.directory.by_role(selector.role, on=on))
        return found

    def _decision(self, outcome: CedarOutcome, workings: _Workings) -> RecipientDecision:
        if outcome.allowed:
            permits = [p for p in outcome.determining if p.effect == "permit"]
            times = [p.acknowledge_within for p in permits if p.acknowledge_within is not None]
            return RecipientDecision(
                recipient_id=outcome.recipient_id,
                permitted=True,
                fields=tuple(sorted({f for p in permits for f in p.fields})),
                rules=tuple(p.rule_id for p in permits),
                purposes=tuple(dict.fromkeys(p.purpose for p in permits if p.purpose)),
                legal_bases=tuple(dict.fromkeys(p.citation for p in permits if p.citation)),
                acknowledge_within=min(times) if times else None,
                reasons=(),
                review=review_request(
                    ((p.rule_id, self._rules_by_id[p.rule_id].review) for p in permits),
                    workings.view,
                    self.directory,
                ),
            )
        proposers = workings.proposals.get(outcome.recipient_id, [])
        forbids = [p.rule_id for p in outcome.determining if p.effect == "forbid"]
        workings.refused_by[outcome.recipient_id] = tuple(forbids)
        reasons: list[str] = []
        for rule_id in proposers:
            rule = self._rules_by_id[rule_id]
            if rule.effect == "forbid":
                continue
            failed = [r for r in workings.conditions(rule) if not r.holds]
            if failed:
                reasons.extend(f"{rule.id} does not apply: {r.reason()}" for r in failed)
            elif forbids:
                reasons.append(f"{rule.id} applies, but a forbid rule overrides it")
            else:
                # Cedar denied what the Python evaluator permits: the two disagree, a bug here.
                raise RuntimeError(
                    f"policy engine disagreement on {rule.id} for {outcome.recipient_id}"
                )
        for rule_id in forbids:
            rule = self._rules_by_id[rule_id]
            reasons.append(f"forbidden by {rule.id}: {rule.title}")
        if not any(self._rules_by_id[r].effect == "permit" for r in proposers):
            reasons.insert(0, "no permit rule names this recipient")
        # A refusal by forbid rules records their purpose and basis, as a disclosure records its.
        refusing = [p for p in outcome.determining if p.effect == "forbid"]
        return RecipientDecision(
            recipient_id=outcome.recipient_id,
            permitted=False,
            fields=(),
            rules=tuple(sorted(proposers)),
            purposes=tuple(dict.fromkeys(p.purpose for p in refusing if p.purpose)),
            legal_bases=tuple(dict.fromkeys(p.citation for p in refusing if p.citation)),
            acknowledge_within=None,
            reasons=tuple(reasons),
        )

    # -- explanations and redaction ------------------------------------------------------------

    def explain(
        self,
        notification: Notification,
        profile: Mapping[str, Any],
        *,
        follows_person_to: str | None = None,
    ) -> dict[str, Any]:
        """Everything behind the decisions about `notification`, as JSON-able data: every rule
        on its type (whether its conditions hold, which failed, whom it names), and every
        candidate (permitted or not, by which rules, fields granted and withheld, why)."""
        evaluation, workings = self._evaluate(notification, profile, follows_person_to)
        document = envelope(notification)
        rules = []
        for rule in workings.rules:
            results = workings.conditions(rule)
            proposes = sorted(
                recipient_id
                for recipient_id, proposers in workings.proposals.items()
                if rule.id in proposers
            )
            rules.append(
                {
                    "id": rule.id,
                    "title": rule.title,
                    "effect": rule.effect,
                    "source": f"{self.name}/{rule.location.removeprefix(self.origin).lstrip('/')}",
                    "follows_person": rule.follows_person,
                    "purpose": rule.purpose,
                    "legal_basis": resolve_basis(rule.legal_basis, self.legal),
                    "conditions_hold": all(r.holds for r in results),
                    "conditions": [_condition_json(r) for r in results],
                    "failed_conditions": [r.text for r in results if not r.holds],
                    "proposes": proposes,
                    "review": rule.review.describe() if rule.review is not None else None,
                    "matched_for": sorted(
                        d.recipient_id
                        for d in evaluation.decisions
                        if rule.id in d.rules and d.permitted
                    ),
                }
            )
        candidates = []
        for decision in evaluation.decisions:
            recipient = self.directory.recipients[decision.recipient_id]
            candidates.append(
                {
                    "recipient": recipient.id,
                    "name": recipient.name,
                    "role": recipient.role,
                    "permitted": decision.permitted,
                    "proposed_by": sorted(workings.proposals.get(recipient.id, [])),
                    "matched_rules": list(decision.rules) if decision.permitted else [],
                    "fields_granted": list(decision.fields),
                    "fields_withheld": withheld(document, decision.fields),
                    "fields_withheld_special": list(decision.special_withheld),
                    "purposes": list(decision.purposes),
                    "legal_bases": list(decision.legal_bases),
                    "bases": [
                        {
                            "rule": rule_id,
                            **resolve_basis(self._rules_by_id[rule_id].legal_basis, self.legal),
                        }
                        for rule_id in self._basis_rules(decision, workings)
                    ],
                    "acknowledge_within": (
                        format_duration(decision.acknowledge_within)
                        if decision.acknowledge_within
                        else None
                    ),
                    "reasons": list(decision.reasons),
                    "held_for_review": _review_json(decision.review),
                }
            )
        return {
            "bundle": self.name,
            "policy_version": self.version,
            "notification": {
                "id": notification.id,
                "source": notification.source,
                "type": notification.type,
            },
            "mode": "follows-person" if follows_person_to else "notification",
            "follows_person_to": follows_person_to,
            "rules": rules,
            "candidates": candidates,
        }

    def _basis_rules(self, decision: RecipientDecision, workings: _Workings) -> list[str]:
        """The rules whose basis a decision records: the permits that matched, or the forbid
        rules that refused."""
        if decision.permitted:
            return list(decision.rules)
        return list(workings.refused_by.get(decision.recipient_id, ()))

    def redact(self, notification: Notification, fields: Sequence[str]) -> dict[str, Any]:
        """The notification's envelope with only `fields` (and `id`, `type`, `specversion`)."""
        return redact_envelope(envelope(notification), fields)


class _BundleFiles:
    """Reads the files of one bundle into its parts, adding every problem to `problems`."""

    def __init__(self, files: Mapping[str, bytes], origin: str, problems: Problems) -> None:
        self.origin = origin
        self.problems = problems
        self.documents: dict[str, Any] = {}
        for relative, content in sorted(files.items()):
            document = self._read(relative, content)
            if document is not UNREADABLE:
                self.documents[relative] = document
        for required in (BUNDLE_FILE, DIRECTORY_FILE, STATUSES_FILE, LEGAL_FILE):
            if required not in files:
                problems.add(self.where(required), 1, "missing: every bundle has this file")
        if not any(relative.startswith(RULES_DIR) for relative in files):
            problems.add(self.where(RULES_DIR), 1, "no rules: the bundle needs rules/*.yaml")

    def where(self, relative: str) -> str:
        """How problems name a file: under the folder the bundle was read from."""
        return f"{self.origin.rstrip('/')}/{relative}" if self.origin else relative

    def _read(self, relative: str, content: bytes) -> Any:
        """The YAML of one file; UNREADABLE if it has none to give (reported if wrongly so)."""
        is_yaml = relative.endswith((".yaml", ".yml"))
        in_known_place = relative in (
            BUNDLE_FILE,
            DIRECTORY_FILE,
            STATUSES_FILE,
            LEGAL_FILE,
        ) or relative.startswith((RULES_DIR, TESTS_DIR))
        if in_known_place and not relative.endswith(".yaml"):
            self.problems.add(
                self.where(relative), 1, "bundle files are YAML files ending in .yaml"
            )
            return UNREADABLE
        if is_yaml and not in_known_place:
            self.problems.add(
                self.where(relative),
                1,
                "not part of the bundle format: bundle.yaml, directory.yaml, statuses.yaml, "
                "legal.yaml, rules/*.yaml, tests/*.yaml",
            )
            return UNREADABLE
        if not is_yaml:
            return UNREADABLE  # documentation: part of the version, not of the decisions
        try:
            text = content.decode("utf-8")
        except UnicodeDecodeError:
            self.problems.add(self.where(relative), 1, "not UTF-8 text")
            return UNREADABLE
        return load_yaml(text, self.where(relative), self.problems)

    def _under(self, folder: str) -> list[str]:
        return sorted(relative for relative in self.documents if relative.startswith(folder))

    def bundle_file(self) -> tuple[str, str]:
        """The bundle's name and description."""
        if BUNDLE_FILE not in self.documents:
            return "", ""
        file, document = self.where(BUNDLE_FILE), self.documents[BUNDLE_FILE]
        if not isinstance(document, YamlMap):
            self.problems.add(file, 1, "expected a mapping with `name:` and `description:`")
            return "", ""
        check_keys(
            document,
            file,
            self.problems,
            allowed=("name", "description", "retention"),
            required=("name",),
            what="bundle.yaml",
        )
        name = text_value(document, "name", file, self.problems, "the bundle") or ""
        description = text_value(document, "description", file, self.problems, "the bundle")
        return name, description or ""

    def retention(self, index: SchemaIndex) -> dict[str, timedelta]:
        """`retention:` of bundle.yaml: every event type an agency may send, and how long its
        personal data is kept after the event, as `<n>y` (365-day years) or `<n>d`."""
        document = self.documents.get(BUNDLE_FILE)
        if not isinstance(document, YamlMap):
            return {}
        file = self.where(BUNDLE_FILE)
        if "retention" not in document:
            self.problems.add(
                file,
                document.line,
                "`retention:` is missing: say how long each event type is kept (e.g. "
                "`custody.admission: 100y`); the law sets no default",
            )
            return {}
        periods = document["retention"]
        if not isinstance(periods, YamlMap):
            self.problems.add(
                file, document.line_of("retention"), "`retention:` maps event types to periods"
            )
            return {}
        found: dict[str, timedelta] = {}
        for event_type, value in periods.items():
            line = periods.line_of(event_type)
            if event_type not in index.event_types:
                self.problems.add(file, line, f"retention: `{event_type}` is not an event type")
                continue
            match = _PERIOD.fullmatch(str(value)) if isinstance(value, str | int) else None
            if match is None or int(match.group(1)) == 0:
                self.problems.add(
                    file,
                    line,
                    f"retention of `{event_type}`: {value!r} is not a period like 7y or 90d",
                )
                continue
            days = int(match.group(1)) * (365 if match.group(2) == "y" else 1)
            found[event_type] = timedelta(days=days)
        for event_type in sorted(index.event_types - set(periods)):
            self.problems.add(
                file,
                document.line_of("retention"),
                f"retention: `{event_type}` is not listed (every event type needs a period)",
            )
        return found

    def statuses(self) -> Authorities:
        """`statuses.yaml`: the authorities of every status kind the profile keeps."""
        if STATUSES_FILE not in self.documents:
            return Authorities({})
        return read_statuses(
            self.documents[STATUSES_FILE], self.where(STATUSES_FILE), self.problems
        )

    def legal(self, index: SchemaIndex) -> LegalRegister | None:
        """`legal.yaml`; None when it is missing or not YAML (a problem already says so)."""
        if LEGAL_FILE not in self.documents:
            return None
        return read_legal(self.documents[LEGAL_FILE], self.where(LEGAL_FILE), self.problems, index)

    def directory(self, index: SchemaIndex) -> Directory:
        if DIRECTORY_FILE not in self.documents:
            return Directory((), ())
        return read_directory(
            self.documents[DIRECTORY_FILE],
            self.where(DIRECTORY_FILE),
            self.problems,
            index.council_areas,
        )

    def rules(self, index: SchemaIndex) -> tuple[list[SharingRule], frozenset[str]]:
        """Every rule of `rules/*.yaml`, and every rule id (also of rules with problems)."""
        rules: list[SharingRule] = []
        first_seen: dict[str, str] = {}
        for relative in self._under(RULES_DIR):
            reader = RuleReader(index, self.where(relative), self.problems)
            rules.extend(reader.read_file(self.documents[relative]))
            for rule_id, line in reader.ids:
                if rule_id in first_seen:
                    self.problems.add(
                        reader.file,
                        line,
                        f"rule id `{rule_id}` is already used at {first_seen[rule_id]}",
                    )
                else:
                    first_seen[rule_id] = f"{reader.file}:{line}"
            for role, line in reader.roles:
                if role not in ROLES:
                    self.problems.add(
                        reader.file, line, f"unknown role `{role}`; roles: {', '.join(ROLES)}"
                    )
        return rules, frozenset(first_seen)

    def test_cases(
        self, index: SchemaIndex, directory: Directory, rule_ids: frozenset[str]
    ) -> list[TestCase]:
        checks = TestCaseChecks(
            event_types=index.event_types,
            recipients=(
                frozenset(directory.recipients) if DIRECTORY_FILE in self.documents else None
            ),
            rules=rule_ids,
            envelope_attributes=frozenset(index.envelope_attributes()),
            field_problem=RuleReader(index, "", Problems()).field_problem,
        )
        cases: list[TestCase] = []
        for relative in self._under(TESTS_DIR):
            found = read_test_file(
                self.documents[relative], self.where(relative), self.problems, checks
            )
            cases.extend(found)
        seen: dict[str, TestCase] = {}
        for case in cases:
            first = seen.setdefault(case.name, case)
            if first is not case:
                self.problems.add(
                    case.file,
                    case.line,
                    f"a case named `{case.name}` is already at {first.file}:{first.line}",
                )
        return cases


@dataclass
class _Workings:
    """What one evaluation worked out, kept for its explanation."""

    view: Mapping[str, Any]
    rules: tuple[SharingRule, ...]
    proposals: dict[str, list[str]]
    _conditions: dict[str, list[ConditionResult]]
    follows_person_to: str | None
    #: The forbid rules that refused each denied candidate.
    refused_by: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def conditions(self, rule: SharingRule) -> list[ConditionResult]:
        if rule.id not in self._conditions:
            self._conditions[rule.id] = evaluate_conditions(rule.when, self.view)
        return self._conditions[rule.id]


def _condition_json(result: ConditionResult) -> dict[str, Any]:
    return {
        "condition": result.text,
        "holds": result.holds,
        "no_value_at": list(result.missing),
    }


def _paths_read(rules: Sequence[SharingRule]) -> list[tuple[ValuePath, Kind]]:
    paths: list[tuple[ValuePath, Kind]] = []
    for rule in rules:
        for condition in rule.when:
            paths.extend(paths_of(condition))
        for selector in rule.share_with:
            for path in (selector.area, selector.recipient):
                if path is not None:
                    paths.append((path, "any"))
    return paths


def _invalid(origin: str, problems: Problems) -> PolicyBundleInvalid:
    lines = problems.lines()
    noun = "problem" if len(lines) == 1 else "problems"
    message = f"the policy bundle {origin or ''} is not valid ({len(lines)} {noun}):\n  " + (
        "\n  ".join(lines)
    )
    return PolicyBundleInvalid(message, lines)


def _review_json(review: ReviewRequest | None) -> dict[str, Any] | None:
    """What explain says of a decision held for case-by-case review: by which rules, who may
    decide it, and when an undecided proposal escalates; None when it would be delivered."""
    if review is None:
        return None
    return {
        "rules": list(review.rules),
        "reviewers": list(review.reviewers),
        "escalate_after": (
            format_duration(review.escalate_after) if review.escalate_after else None
        ),
    }


class _Envelope:
    """One notification's envelope and its special-category values, built once for all the
    decisions of an evaluation (the guard reads them for every permitted recipient)."""

    __slots__ = ("_document", "_notification", "_special")

    def __init__(self, notification: Notification) -> None:
        self._notification = notification
        self._document: dict[str, Any] | None = None
        self._special: dict[str, frozenset[str]] | None = None

    @property
    def document(self) -> dict[str, Any]:
        if self._document is None:
            # Read only (the special-category walk and guard): the data need not be copied.
            self._document = envelope(self._notification, copy_data=False)
        return self._document

    def special(self, index: CategoryIndex) -> dict[str, frozenset[str]]:
        if self._special is None:
            self._special = special_values(index, self._notification.type, self.document)
        return self._special
