"""Console documents as PDF (WeasyPrint), from the print templates in `print/`.

Rendering reads nothing from the network or from outside the package: WeasyPrint asks
`PackageFetcher` for every stylesheet, font and image a document names, and it serves only the
files under `print/` and the vendored fonts; anything else (an `https:` URL, a file elsewhere)
stops the rendering, so a stray reference fails loudly instead of leaking a request.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from jinja2 import Environment, FileSystemLoader
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

HERE = Path(__file__).resolve().parent
PRINT_DIR = HERE / "print"
FONTS_DIR = HERE / "static" / "fonts"
#: The directories a document may read from.
SERVED_DIRS = (PRINT_DIR, FONTS_DIR)

_templates = Environment(loader=FileSystemLoader(PRINT_DIR), autoescape=True)


class RefusedFetch(ValueError):
    """A document named something outside the package's print files and fonts."""


class PackageFetcher(URLFetcher):  # type: ignore[misc]  # WeasyPrint ships no type hints
    """Serves `file:` URLs under `SERVED_DIRS`, and nothing else."""

    def __init__(self) -> None:
        super().__init__(allowed_protocols={"file"}, allow_redirects=False, fail_on_errors=True)

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        return URLFetcherResponse(url, body=self.read(url), headers=self.headers_of(url))

    @staticmethod
    def read(url: str) -> bytes:
        """The bytes of the package file `url` names (`RefusedFetch` for anything else)."""
        parts = urlsplit(url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise RefusedFetch(f"a console document may not fetch {url!r}")
        path = Path(unquote(parts.path)).resolve()
        if not any(path.is_relative_to(d) for d in SERVED_DIRS) or not path.is_file():
            raise RefusedFetch(f"a console document may not fetch {url!r}")
        return path.read_bytes()

    @staticmethod
    def headers_of(url: str) -> dict[str, str]:
        media_type, _ = mimetypes.guess_type(urlsplit(url).path)
        if url.endswith(".woff2"):
            media_type = "font/woff2"
        return {"Content-Type": media_type or "application/octet-stream"}


def render_pdf(template: str, **context: object) -> bytes:
    """The print template `template` filled with `context`, as a PDF (CPU-bound: run it in a
    worker thread)."""
    html = _templates.get_template(template).render(**context)
    document = HTML(string=html, base_url=PRINT_DIR.as_uri() + "/", url_fetcher=PackageFetcher())
    pdf: bytes = document.write_pdf()
    return pdf
