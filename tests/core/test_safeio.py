"""Files autoresearch opens for a run: never through a symlink the run could have planted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from autoresearch.core import safeio


def test_a_planted_folder_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    anchor, outside = tmp_path / "study", tmp_path / "outside"
    (anchor / "experiments").mkdir(parents=True)
    outside.mkdir()
    (anchor / "experiments" / "00002").symlink_to(outside)
    with pytest.raises(safeio.UnsafePath, match="00002"):
        safeio.write_text(anchor / "experiments" / "00002" / "stdout.log", "x", anchor)
    with pytest.raises(safeio.UnsafePath):
        safeio.fresh_dir(anchor / "experiments" / "00002" / "output", anchor)
    assert list(outside.iterdir()) == []


def test_a_planted_file_link_is_replaced_not_written_through(tmp_path: Path) -> None:
    anchor = tmp_path / "study"
    anchor.mkdir()
    config = tmp_path / "config"
    config.write_text("[core]\n")
    (anchor / "stdout.log").symlink_to(config)
    safeio.write_text(anchor / "stdout.log", "loss: 1\n", anchor)
    assert config.read_text() == "[core]\n"
    assert not (anchor / "stdout.log").is_symlink() and (anchor / "stdout.log").read_text() == "loss: 1\n"


def test_reads_refuse_links_and_special_files(tmp_path: Path) -> None:
    anchor = tmp_path / "run"
    (anchor / "out").mkdir(parents=True)
    secret = tmp_path / "labels.json"
    secret.write_text('{"loss": -5}')
    (anchor / "out" / "metrics.json").symlink_to(secret)
    with pytest.raises(safeio.UnsafePath):
        safeio.read_bytes(anchor / "out" / "metrics.json", anchor)
    os.mkfifo(anchor / "out" / "fifo")
    with pytest.raises(safeio.UnsafePath, match="not a regular file"):
        safeio.read_bytes(anchor / "out" / "fifo", anchor)
    (anchor / "out" / "ok.json").write_text("{}")
    assert safeio.read_bytes(anchor / "out" / "ok.json", anchor) == b"{}"


def test_a_fresh_output_folder_is_emptied_without_following_links_inside(tmp_path: Path) -> None:
    anchor, keep = tmp_path / "study", tmp_path / "keep"
    keep.mkdir()
    (keep / "precious.txt").write_text("mine")
    output = anchor / "e" / "output"
    output.mkdir(parents=True)
    (output / "link").symlink_to(keep)
    (output / "old.txt").write_text("from an earlier attempt")
    safeio.fresh_dir(output, anchor)
    assert list(output.iterdir()) == []
    assert (keep / "precious.txt").read_text() == "mine"
