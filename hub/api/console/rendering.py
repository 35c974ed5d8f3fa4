"""What every console page shares: its templates, the headers that protect each answer, and
finding the console and the signed-in session of a request.

A page that updates part of itself with htmx (static/console-htmx.js) names that part's
template as its `fragment`: a request htmx sends (`HX-Request: true`) is answered with the
fragment alone, rendered from the same context, with the same status code and headers, after
the same checks and audit as the whole page."""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from fastapi import HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from hub.api.console.roles import HubRole
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession

logger = logging.getLogger("hub.console")

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")

SESSION_COOKIE = "pph_console"


def console_of(request: Request) -> Console:
    console: Console | None = getattr(request.app.state, "console", None)
    if console is None:
        raise HTTPException(status_code=404, detail="the console is not configured")
    return console


def protect(
    response: Response, console: Console, *, scripts: bool = False, requests: bool = False
) -> Response:
    """A strict Content-Security-Policy, no framing, no caching and no Referer on the answer.
    With `scripts`, the page may run the hub's own script files (never an inline script); with
    `requests`, those scripts may send requests to the hub (htmx's partial updates)."""
    # form-action names the provider: sign-out's POST is answered with a redirect there.
    script_src = "script-src 'self'; " if scripts or requests else ""
    connect_src = "connect-src 'self'; " if requests else ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; {script_src}{connect_src}style-src 'self'; img-src 'self' data:; "
        f"form-action 'self' {console.provider_origin}; "
        "frame-ancestors 'none'; base-uri 'none'"
    )
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def wants_fragment(request: Request) -> bool:
    """Whether htmx sent the request, to replace part of a page with the answer."""
    return request.headers.get("HX-Request") == "true"


def page(
    request: Request,
    console: Console,
    template: str,
    status_code: int = 200,
    *,
    scripts: bool = False,
    fragment: str | None = None,
    **context: object,
) -> Response:
    """The page `template`, or, to htmx, its part `fragment` (a template the page includes).
    A page with a fragment loads htmx, so it runs the hub's own scripts and they send requests
    to the hub."""
    partial = fragment is not None and wants_fragment(request)
    chosen = fragment if partial and fragment is not None else template
    context = {**context, "htmx": fragment is not None, "partial": partial}
    response = templates.TemplateResponse(request, chosen, context, status_code=status_code)
    if fragment is not None:
        response.headers["Vary"] = "HX-Request"
    if partial:
        response.headers["X-Console-Fragment"] = "1"
    return protect(response, console, scripts=scripts, requests=fragment is not None)


def session_of(request: Request, console: Console) -> ConsoleSession | None:
    return console.sessions.find(request.cookies.get(SESSION_COOKIE))


def signed_in_or_answer(
    request: Request, allowed: Collection[HubRole], needed: str, pages: str
) -> tuple[Console, ConsoleSession | Response]:
    """The console and the signed-in session of a person holding one of the `allowed` roles,
    or the answer to send instead: to the sign-in page when nobody is signed in, the refused
    page (naming the role `needed`) to anyone else. `pages` names what was refused in the log."""
    console = console_of(request)
    session = session_of(request, console)
    if session is None:
        home = RedirectResponse(str(request.url_for("console_home")), status_code=303)
        return console, protect(home, console)
    if not any(role in session.person.roles for role in allowed):
        logger.info("console: subject %s refused %s", session.person.subject, pages)
        return console, page(
            request,
            console,
            "forbidden.html",
            status_code=403,
            person=session.person,
            needed=needed,
        )
    return console, session
