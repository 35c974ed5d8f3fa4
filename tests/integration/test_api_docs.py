"""The API documentation pages (`/docs`, `/redoc`, Swagger UI's OAuth redirect page) load every
script, stylesheet and icon from the hub itself, each served with its right content type, under
a Content-Security-Policy that runs no inline script: they work on a network with no internet.
The vendored files are the versions `deploy/vendor-docs-assets.sh` pins."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
import pytest_asyncio

from hub.api.api_docs import ASSETS_DIR
from hub.api.app import create_app

ROOT = Path(__file__).resolve().parents[2]
PAGES = ("/docs", "/redoc", "/docs/oauth2-redirect")
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class References(HTMLParser):
    """The URLs a page loads (scripts, stylesheets, icons), and its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0
        self._in_script_without_src = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.urls.append(str(found["src"]))
            else:
                self._in_script_without_src = True
        elif tag == "link" and found.get("href"):
            self.urls.append(str(found["href"]))
        elif tag in ("img", "iframe") and found.get("src"):
            self.urls.append(str(found["src"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script_without_src = False

    def handle_data(self, data: str) -> None:
        if self._in_script_without_src and data.strip():
            self.inline_scripts += 1


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    # The documentation needs no database: the app without its lifespan serves it.
    transport = httpx.ASGITransport(app=create_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://hub.test") as client:
        yield client


@pytest.mark.asyncio
async def test_the_docs_pages_load_only_same_origin_assets_each_served(
    http: httpx.AsyncClient,
) -> None:
    served: set[str] = set()
    for path in PAGES:
        page = await http.get(path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'none'"
        assert directives["script-src"] == "'self'", path  # no inline or remote script
        assert directives["frame-ancestors"] == "'none'"
        assert "cdn" not in page.text
        assert "googleapis" not in page.text
        references = References()
        references.feed(page.text)
        assert references.inline_scripts == 0, path
        assert references.urls, path
        for url in references.urls:
            assert url.startswith("/"), (path, url)
            assert not url.startswith("//"), (path, url)
            asset = await http.get(url)
            assert asset.status_code == 200, url
            suffix = Path(url).suffix
            assert asset.headers["content-type"].split(";")[0] == CONTENT_TYPES[suffix], url
            served.add(url)
    assert "/docs/assets/swagger-ui/swagger-ui-bundle.js" in served
    assert "/docs/assets/swagger-ui-init.js" in served
    assert "/docs/assets/redoc/redoc.standalone.js" in served
    # Swagger UI finds the document where the page says it is.
    docs = (await http.get("/docs")).text
    assert 'data-openapi-url="/openapi.json"' in docs
    assert (await http.get("/openapi.json")).status_code == 200
    assert (await http.get("/docs/assets/../api_docs.py")).status_code == 404


def test_the_vendored_assets_are_the_pinned_versions() -> None:
    script = (ROOT / "deploy" / "vendor-docs-assets.sh").read_text()
    for name in ("swagger-ui", "redoc"):
        pinned = re.search(rf"^{name.upper().replace('-', '_')}=(\S+)$", script, re.M)
        integrity = re.search(rf"^{name.upper().replace('-', '_')}_INTEGRITY=(\S+)$", script, re.M)
        assert pinned is not None, name
        assert integrity is not None, name
        version_file = ASSETS_DIR / name / "VERSION"
        assert version_file.read_text().split() == [pinned.group(1), integrity.group(1)]
