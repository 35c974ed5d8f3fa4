"""Path and query parameters checked for characters the hub refuses everywhere (a NUL, other
control characters, a lone surrogate; `hub.domain.safe_json.forbidden_character`), before any
route runs: PostgreSQL cannot take a NUL even in a WHERE clause, so `?person=a%00b` was a 500."""

from __future__ import annotations

from fastapi import Request

from hub.domain.safe_json import forbidden_character
from hub.errors import FieldProblem, InvalidRequest


async def clean_parameters(request: Request) -> None:
    """An app-wide dependency: `InvalidRequest` (422) naming every offending parameter."""
    problems: list[FieldProblem] = []
    for where, items in (
        ("path", request.path_params.items()),
        ("query", request.query_params.multi_items()),
    ):
        for name, value in items:
            for text, what in ((name, "its name"), (str(value), "its value")):
                problem = forbidden_character(text)
                if problem is not None:
                    shown = name if forbidden_character(name) is None else "(unprintable)"
                    problems.append(FieldProblem(f"/{where}/{shown}", f"{what} {problem}"))
                    break
    if problems:
        first = problems[0]
        raise InvalidRequest(
            f"the parameter {first.pointer} {first.message}; nothing was read or changed",
            problems,
        )
