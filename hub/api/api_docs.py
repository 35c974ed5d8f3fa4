"""The API's documentation pages, `/docs` (Swagger UI) and `/redoc` (ReDoc), served with their
scripts and stylesheets from the hub itself (`docs_static/`, vendored by
`deploy/vendor-docs-assets.sh`), so they work on a network with no internet; FastAPI's own pages
load them from a public CDN.

Each page carries a Content-Security-Policy that allows scripts from the hub only: Swagger UI is
started by a file (`swagger-ui-init.js`), not an inline script. ReDoc styles itself with
`<style>` elements it writes at run time, so `/redoc` alone allows inline styles (never inline
scripts), and its search runs in a worker it builds from a `blob:` URL. Nothing is fetched from
elsewhere: ReDoc's "by Redocly" logo, which it loads from its CDN, is refused, and ReDoc then
leaves it out.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_DIR = Path(__file__).resolve().parent / "docs_static"
#: Where the vendored files are served (a mount, so that nothing else there is a route).
ASSETS_PATH = "/docs/assets"
DOCS_PATH = "/docs"
OAUTH2_REDIRECT_PATH = "/docs/oauth2-redirect"
REDOC_PATH = "/redoc"

_COMMON_POLICY = (
    "default-src 'none'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SWAGGER_UI_POLICY = f"{_COMMON_POLICY}; style-src 'self'"
REDOC_POLICY = (
    f"{_COMMON_POLICY}; style-src 'self' 'unsafe-inline'; font-src 'self'; worker-src blob:"
)


def install(app: FastAPI) -> None:
    """Serve `/docs`, `/docs/oauth2-redirect`, `/redoc` and their assets. The app must be built
    with `docs_url=None, redoc_url=None` (FastAPI's CDN-loading pages)."""
    app.mount(ASSETS_PATH, StaticFiles(directory=ASSETS_DIR), name="api_docs_assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        openapi_url = escape(root + (app.openapi_url or "/openapi.json"))
        assets = escape(root + ASSETS_PATH)
        redirect = escape(root + OAUTH2_REDIRECT_PATH)
        html = f"""<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(app.title)}: Swagger UI</title>
<link rel="stylesheet" href="{assets}/swagger-ui/swagger-ui.css">
<link rel="icon" href="{assets}/swagger-ui/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi_url}" data-oauth2-redirect-url="{redirect}"></div>
<script src="{assets}/swagger-ui/swagger-ui-bundle.js"></script>
<script src="{assets}/swagger-ui-init.js"></script>
</body>
</html>
"""
        return _protected(HTMLResponse(html), SWAGGER_UI_POLICY)

    @app.get(OAUTH2_REDIRECT_PATH, include_in_schema=False)
    async def swagger_ui_redirect(request: Request) -> HTMLResponse:
        assets = escape(request.scope.get("root_path", "") + ASSETS_PATH)
        html = f"""<!doctype html>
<html lang="en-GB">
<head><meta charset="utf-8"><title>Swagger UI: OAuth2 redirect</title></head>
<body>
<script src="{assets}/swagger-ui/oauth2-redirect.js"></script>
</body>
</html>
"""
        return _protected(HTMLResponse(html), SWAGGER_UI_POLICY)

    @app.get(REDOC_PATH, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_redoc_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title}: ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/swagger-ui/favicon-32x32.png",
            with_google_fonts=False,
        )
        return _protected(page, REDOC_POLICY)


def _protected(response: HTMLResponse, policy: str) -> HTMLResponse:
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
