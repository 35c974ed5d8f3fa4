"""Where the hub's data directories are: `events/`, `policies/` and `migrations/`.

In a checkout they live at the repository root, beside the `hub` package. A built wheel carries
them inside the package as `hub/_data/<name>` (pyproject.toml's `force-include`), so an installed
hub finds them without the repository; the packaged copy wins when it is there, and it is never
there in a checkout (nothing in the repository is named `hub/_data`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

#: The repository root in a checkout (in an installed wheel: the site-packages directory).
PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent

#: Where a wheel puts the data directories (inside the installed `hub` package).
PACKAGED_ROOT: Final = Path(__file__).resolve().parent / "_data"

DataDirectory = Literal["events", "policies", "migrations"]


def resource_dir(name: DataDirectory) -> Path:
    """The directory `name`: the packaged copy in an installed wheel, else the checkout's."""
    packaged = PACKAGED_ROOT / name
    if packaged.is_dir():
        return packaged
    return PROJECT_ROOT / name
