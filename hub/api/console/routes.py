"""The console's pages: `/` (signed in, or the sign-in page), sign-in at the identity provider
and back, sign-out (RP-initiated logout at the provider). Every console answer carries a strict
Content-Security-Policy, is never cached, and sends no Referer (the callback's URL holds a code).
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from hub.api.console import (
    audit_pages,
    dpo_pages,
    mappa_pages,
    mappa_reviews,
    operator_pages,
    query_pages,
    restriction_pages,
    sar_pdf,
)
from hub.api.console.mappa_access import regions_of
from hub.api.console.oidc import SignInFailed
from hub.api.console.rendering import (
    HERE,
    SESSION_COOKIE,
    console_of,
    page,
    protect,
    session_of,
)
from hub.api.console.runtime import Console
from hub.api.console.sessions import SignedInPerson, csrf_matches

logger = logging.getLogger("hub.console")

#: The files under static/ the console serves (nothing else there is reachable).
STATIC_FILES = {
    "console.css": "text/css",
    "sgds/design-system.min.css": "text/css",
    # The MAPPA dashboard's charts: uPlot (deploy/vendor-charts.sh) and what draws them.
    "uplot/uPlot.iife.min.js": "text/javascript",
    "uplot/uPlot.min.css": "text/css",
    "mappa-charts.js": "text/javascript",
    # Partial updates: htmx (deploy/vendor-htmx.sh) and the console's use of it.
    "htmx/htmx.min.js": "text/javascript",
    "console-htmx.js": "text/javascript",
}

#: Binds a pending sign-in to the browser that began it (login CSRF); read only by the callback.
SIGN_IN_COOKIE = "pph_console_signin"
CALLBACK_PATH = "/console/callback"

router = APIRouter(include_in_schema=False)
# The data protection officer's pages, each in its own module.
router.include_router(dpo_pages.router)
router.include_router(restriction_pages.router)
# The MAPPA co-ordinator's oversight pages.
router.include_router(mappa_pages.router)
router.include_router(mappa_reviews.router)
# The audit log's status (dpo, operator) and the DPO's disclosure queries.
router.include_router(audit_pages.router)
router.include_router(query_pages.router)
# The subject access report as PDF.
router.include_router(sar_pdf.router)
# The operator's pages: clients, subscriptions, the bundle in force, dead deliveries.
router.include_router(operator_pages.router)


@router.get("/", name="console_home")
async def home(request: Request) -> Response:
    console = console_of(request)
    session = session_of(request, console)
    if session is None:
        return page(request, console, "signin.html")
    return page(
        request,
        console,
        "home.html",
        person=session.person,
        agency_name=_agency_name(request, session.person.agency),
        roles=sorted(session.person.roles),
        dpo=dpo_pages.DPO in session.person.roles,
        mappa_regions=regions_of(session.person),
        audit_status=bool(audit_pages.AUDIT_STATUS_ROLES & session.person.roles),
        operator=operator_pages.OPERATOR in session.person.roles,
        csrf_token=session.csrf_token,
    )


def _agency_name(request: Request, agency: str) -> str:
    """The directory's name for the agency (the id itself for the issuer or the operator)."""
    recipient = request.app.state.container.policy.directory.get(agency)
    return agency if recipient is None else f"{recipient.name} ({agency})"


@router.get("/console/login", name="console_login")
async def login(request: Request) -> Response:
    console = console_of(request)
    redirect_uri = str(request.url_for("console_callback"))
    binding, pending = console.sessions.begin_sign_in(redirect_uri)
    try:
        target = await console.relying_party.authorization_url(pending)
    except SignInFailed as error:
        return _failed(request, console, error)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SIGN_IN_COOKIE,
        binding,
        max_age=int(console.sessions.sign_in_seconds),
        path=CALLBACK_PATH,
        secure=console.cookie_secure,
        httponly=True,
        # Lax: the provider's redirect back is a top-level navigation from another site.
        samesite="lax",
    )
    return protect(response, console)


@router.get(CALLBACK_PATH, name="console_callback")
async def callback(
    request: Request,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    console = console_of(request)
    if error is not None:
        reason = f"the identity provider answered {error}"
        if error_description:
            reason += f": {error_description}"
        return _failed(request, console, SignInFailed(reason))
    if not code or not state:
        return _failed(request, console, SignInFailed("the answer has no code or no state"))
    pending = console.sessions.finish_sign_in(request.cookies.get(SIGN_IN_COOKIE), state)
    if pending is None:
        return _failed(
            request,
            console,
            SignInFailed(
                "this sign-in was not begun in this browser, was already used, or took too "
                "long; please sign in again"
            ),
        )
    try:
        identity = await console.relying_party.redeem(code, pending)
    except SignInFailed as failure:
        return _failed(request, console, failure)
    roles = console.roles.roles_of(identity.claims)
    if not roles:
        logger.info("console sign-in refused: subject %s holds no hub role", identity.subject)
        return await _refused(request, console, identity.display_name, agency_claim=False)
    agency = console.agencies.agency_of(identity.claims)
    if agency is None:
        logger.info("console sign-in refused: subject %s names no known agency", identity.subject)
        return await _refused(request, console, identity.display_name, agency_claim=True)
    person = SignedInPerson(identity.subject, identity.display_name, roles, agency)
    session_id, _session_opened = console.sessions.open(person, identity.id_token)
    logger.info(
        "console sign-in: subject %s as %s for %s",
        identity.subject,
        ", ".join(role.title for role in sorted(roles)),
        agency,
    )
    response = RedirectResponse(str(request.url_for("console_home")), status_code=303)
    response.delete_cookie(SIGN_IN_COOKIE, path=CALLBACK_PATH)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        path="/",
        secure=console.cookie_secure,
        httponly=True,
        samesite="lax",
    )
    return protect(response, console)


@router.post("/console/logout", name="console_logout")
async def logout(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> Response:
    console = console_of(request)
    session = session_of(request, console)
    if session is None:
        # Nothing to end here; back to the sign-in page.
        response = RedirectResponse(str(request.url_for("console_home")), status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return protect(response, console)
    if not csrf_matches(session, csrf_token):
        return page(
            request,
            console,
            "error.html",
            status_code=403,
            title="Sign-out refused",
            message="The form did not come from this console (its CSRF token is missing or "
            "wrong). Nothing was changed; use the sign-out button on the console's page.",
        )
    console.sessions.close(request.cookies.get(SESSION_COOKIE))
    home_url = str(request.url_for("console_home"))
    try:
        target = await console.relying_party.end_session_url(
            id_token=session.id_token, post_logout_redirect_uri=home_url
        )
    except SignInFailed:
        target = None  # signed out here; the provider's own session ends when it expires
    response = RedirectResponse(target or home_url, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return protect(response, console)


@router.get("/console/static/{name:path}", name="console_static")
async def static(request: Request, name: str) -> Response:
    console = console_of(request)
    media_type = STATIC_FILES.get(name)
    if media_type is None:
        raise HTTPException(status_code=404, detail=f"no console file {name!r}")
    response = FileResponse(HERE / "static" / name, media_type=media_type)
    protect(response, console)
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


async def _refused(
    request: Request, console: Console, name: str, *, agency_claim: bool
) -> Response:
    """Signed in at the provider, but no use of the console: no hub role, or (`agency_claim`)
    no agency the hub knows."""
    response = page(
        request,
        console,
        "refused.html",
        status_code=403,
        name=name,
        claim=console.agencies.claim if agency_claim else console.roles.claim,
        agency_claim=agency_claim,
        # No ID token in a link on the page (it names the person): the provider asks to
        # confirm instead.
        sign_out_url=await console.relying_party.end_session_url(
            id_token=None,
            post_logout_redirect_uri=str(request.url_for("console_home")),
        ),
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=CALLBACK_PATH)
    return response


def _failed(request: Request, console: Console, failure: SignInFailed) -> Response:
    logger.warning("console sign-in failed: %s", failure)
    response = page(
        request,
        console,
        "error.html",
        status_code=502 if failure.provider_down else 400,
        title="Sign-in failed",
        message=str(failure),
        retry=True,
    )
    response.delete_cookie(SIGN_IN_COOKIE, path=CALLBACK_PATH)
    return response
