"""Integrity checks: the proposer must not change how it is measured.

- protected files (evaluator, data) are hashed before and after every run, in both modes;
- a metrics file is deleted before a run, so only what this run wrote is read;
- a diff that touches seeds, the metric's name or lines printing it is flagged;
- repeats that all give the same value while the baseline's vary are flagged (the seed is ignored).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from autoresearch.core import safeio
from autoresearch.materialise.git import hash_files

# Identifiers through which code sets a random seed, in the common libraries.
SEED_WORDS = (
    "seed",
    "random_state",
    "manual_seed",
    "manual_seed_all",
    "set_seed",
    "seed_everything",
    "RandomState",
    "default_rng",
    "PRNGKey",
    "AUTORESEARCH_SEED",
)
_SEED = re.compile(r"(?i)\b\w*(?:" + "|".join(re.escape(w) for w in SEED_WORDS) + r")\w*\b")


def protected_hashes(root: Path, patterns: list[str]) -> dict[str, str]:
    return hash_files(root, patterns) if patterns else {}


def changed(reference: dict[str, str], before: dict[str, str], after: dict[str, str]) -> list[str]:
    """Protected paths that differ from REFERENCE before the run, or changed during it."""
    keys = set(reference) | set(before) | set(after)
    return sorted(k for k in keys if not (reference.get(k) == before.get(k) == after.get(k)))


def remove_stale(cwd: Path, json_spec: str) -> None:
    """Delete the metrics file named by `path/to/file.json:key` (relative to CWD) if it exists."""
    path = cwd / json_spec.rpartition(":")[0]
    try:
        folder = safeio.open_dir(path.parent, cwd, create=False)  # UnsafePath for a planted link
    except FileNotFoundError:
        return
    try:
        os.unlink(path.name, dir_fd=folder)  # a symlink itself, never its target
    except (FileNotFoundError, IsADirectoryError):
        pass
    finally:
        os.close(folder)


def diff_flags(diff: str | None, metric: str, metrics_file: str | None = None) -> list[str]:
    """What in a unified diff looks like gaming the measurement rather than improving the system."""
    if not diff:
        return []
    seeds: list[str] = []
    metric_lines: list[str] = []
    name = re.compile(rf"\b{re.escape(metric)}\b")
    file_name = Path(metrics_file.rpartition(":")[0]).name if metrics_file else None
    for line in diff.splitlines():
        if not line or line[0] not in "+-" or line.startswith(("+++", "---")):
            continue
        text = line[1:]
        if _SEED.search(text):
            seeds.append(line.strip())
        if name.search(text) or (file_name and file_name in text):
            metric_lines.append(line.strip())
    flags = []
    if seeds:
        flags.append(f"changes a random seed: {_quote(seeds)}")
    if metric_lines:
        flags.append(f"changes lines naming the metric {metric!r}: {_quote(metric_lines)}")
    return flags


def _quote(lines: list[str], most: int = 3) -> str:
    shown = "; ".join(line[:120] for line in lines[:most])
    return shown + (f" (+{len(lines) - most} more)" if len(lines) > most else "")
