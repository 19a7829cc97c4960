"""Lessons memory: every K finished experiments the LLM condenses the history into short notes
(`<study_dir>/lessons.md`) that later prompts include, so knowledge outlives the history window."""

from __future__ import annotations

import os
from pathlib import Path

from autoresearch.core import safeio

LESSONS_FILE = "lessons.md"


class Lessons:
    def __init__(self, path: Path, *, every: int = 10, max_chars: int = 3000) -> None:
        self.path = Path(path)
        self.every = every
        self.max_chars = max_chars
        self._epoch: int | None = None  # done-count // every at the last update

    def read(self) -> str:
        try:
            return self.path.read_text().strip()[: self.max_chars]
        except FileNotFoundError:
            return ""

    def due(self, done: int) -> bool:
        """True when `done` crossed a multiple of `every` since the last update."""
        if self.every <= 0 or done < self.every:
            return False
        if self._epoch is None:
            # On resume, notes already on disk are taken as current for this epoch.
            self._epoch = done // self.every if self.path.exists() else 0
        return done // self.every > self._epoch

    def write(self, text: str, done: int) -> None:
        text = text.strip()
        if text.startswith("```"):
            text = text.strip("`").removeprefix("markdown").strip()
        tmp = self.path.with_suffix(".md.tmp")
        # Below the spec's folder (<spec>/.autoresearch/<study>/lessons.md) no planted link is followed.
        anchor = self.path.parents[2] if len(self.path.parents) > 2 else self.path.parent
        safeio.write_text(tmp, text[: self.max_chars] + "\n", anchor)
        os.replace(tmp, self.path)  # atomic: a crash never leaves half a file; replaces a link, never its target
        self._epoch = done // self.every if self.every > 0 else 0
