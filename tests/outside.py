"""Packages outside this repository, as pip leaves them: a dist-info folder (METADATA, entry_points.txt)
and their modules in a folder a test puts on sys.path; `autoresearch.core.plugins` reads the metadata."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from autoresearch.core import plugins


def install(site: Path, dist: str, entry_points: str, module: str = "", source: str = "") -> None:
    """A distribution DIST in SITE registering ENTRY_POINTS, with MODULE's SOURCE beside it."""
    info = site / f"{dist}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    if module:
        (site / f"{module}.py").write_text(source)


@contextmanager
def on_path(site: Path) -> Iterator[Path]:
    """SITE on sys.path (and the plug-ins read again) for the duration; modules named outside_* forgotten."""
    sys.path.insert(0, str(site))
    importlib.invalidate_caches()  # a folder made after the import system last looked
    plugins.registered.cache_clear()
    try:
        yield site
    finally:
        sys.path.remove(str(site))
        plugins.registered.cache_clear()
        for name in [m for m in sys.modules if m.startswith("outside_")]:
            del sys.modules[name]
