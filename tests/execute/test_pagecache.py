"""Warming a run's files into the page cache before each compared run (execute/pagecache.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from autoresearch.execute.pagecache import warm


def cached_bytes(path: Path) -> int:
    """How much of PATH is in the page cache, by util-linux's fincore (mincore(2))."""
    out = subprocess.run(["fincore", "--bytes", "--noheadings", "--output", "RES", str(path)], capture_output=True)
    return int(out.stdout.split()[0])


def evict(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def test_warm_brings_evicted_files_back_into_the_cache(tmp_path: Path) -> None:
    data = tmp_path / "data" / "blob.bin"
    data.parent.mkdir()
    data.write_bytes(os.urandom(8 << 20))
    evict(data)
    assert cached_bytes(data) < 1 << 20
    assert warm(tmp_path) == 8 << 20
    assert cached_bytes(data) == 8 << 20


def test_warm_skips_git_and_autoresearch_folders_links_and_stops_at_its_limit(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_bytes(b"a" * 1000)
    for skipped in (".git", ".autoresearch", "__pycache__"):
        (tmp_path / skipped).mkdir()
        (tmp_path / skipped / "big").write_bytes(b"x" * 5000)
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (outside / "secret").write_bytes(b"s" * 7000)
    (tmp_path / "file-link").symlink_to(outside / "secret")
    (tmp_path / "folder-link").symlink_to(outside)
    os.mkfifo(tmp_path / "fifo")  # never blocks on it
    assert warm(tmp_path) == 1000
    (tmp_path / "b.txt").write_bytes(b"b" * 1000)
    assert warm(tmp_path, limit=1500) == 1500
