"""Rendering a console document as PDF fetches nothing but the package's print files and fonts:
no network, no file elsewhere on the host."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hub.api.console.print_pdf import FONTS_DIR, PRINT_DIR, PackageFetcher, RefusedFetch


def test_rendering_fetches_package_files_only() -> None:
    fetcher = PackageFetcher()
    font = fetcher.fetch((FONTS_DIR / "roboto-latin-400-normal.woff2").as_uri())
    assert font.read(4) == b"wOF2"
    assert font.content_type == "font/woff2"
    for url in (
        "https://fonts.googleapis.com/css?family=Roboto",
        "http://127.0.0.1:9/x.css",
        "file:///etc/passwd",
        "file://elsewhere/print/sar.css",
        "data:text/css,body{}",
        (PRINT_DIR / ".." / "sessions.py").as_uri(),  # beside the print files, not in them
    ):
        with pytest.raises(RefusedFetch):
            fetcher.fetch(url)


def test_the_print_stylesheet_is_served_as_css() -> None:
    sheet = PackageFetcher().fetch((PRINT_DIR / "sar.css").as_uri())
    assert sheet.content_type == "text/css"
    assert b"@page" in sheet.read()


def test_the_api_loads_weasyprint_only_for_a_pdf() -> None:
    # Every `hub serve` start imports the app; WeasyPrint and Pango cost it ~0.7 s of CPU.
    probe = "import sys, hub.api.app\nprint('weasyprint' in sys.modules)\n"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False", done.stderr
