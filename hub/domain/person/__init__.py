"""The person model: status records that begin and end, the authorities that may set them,
and the fold of a person's notifications into their profile (policies/README.md "Statuses")."""

from hub.domain.person.authority import ANY, NAMESPACES, Authorities, namespace_of
from hub.domain.person.fold import ADMITTING_TYPES, KNOWN_TYPES, apply, receiving_establishment
from hub.domain.person.profile import (
    CONTEXT_ATTRIBUTES,
    CUSTODY_STATUSES,
    IN_COMMUNITY,
    IN_CUSTODY,
    JSON_FORMAT,
    UNKNOWN,
    UNLAWFULLY_AT_LARGE,
    PersonProfile,
    ProfileFormatUnknown,
    RiskAssessment,
)
from hub.domain.person.statuses import DERIVED_KINDS, STATUS_KINDS, Status

__all__ = [
    "ADMITTING_TYPES",
    "ANY",
    "CONTEXT_ATTRIBUTES",
    "CUSTODY_STATUSES",
    "DERIVED_KINDS",
    "IN_COMMUNITY",
    "IN_CUSTODY",
    "JSON_FORMAT",
    "KNOWN_TYPES",
    "NAMESPACES",
    "STATUS_KINDS",
    "UNKNOWN",
    "UNLAWFULLY_AT_LARGE",
    "Authorities",
    "PersonProfile",
    "ProfileFormatUnknown",
    "RiskAssessment",
    "Status",
    "apply",
    "namespace_of",
    "receiving_establishment",
]
