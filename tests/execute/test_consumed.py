"""execute/consumed.py: what a scorer or holdout gets of a run's output is a copy of its plain files only."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from autoresearch.execute import consumed


def _output(tmp_path: Path) -> tuple[Path, Path]:
    anchor = tmp_path / "study"
    output = anchor / "exp" / "output"
    output.mkdir(parents=True)
    return anchor, output


def test_plain_files_and_folders_are_copied_byte_for_byte(tmp_path: Path) -> None:
    anchor, output = _output(tmp_path)
    (output / "pred.txt").write_text("1.0\n")
    (output / "model").mkdir()
    (output / "model" / "weights.bin").write_bytes(bytes(range(256)) * 100)
    copied = consumed.copy_output(output, anchor / "exp" / "given", anchor)
    assert (copied.path / "pred.txt").read_text() == "1.0\n"
    assert (copied.path / "model" / "weights.bin").read_bytes() == bytes(range(256)) * 100
    assert copied.skipped == [] and copied.note() == "" and copied.files == 2
    consumed.remove(copied, anchor)
    assert not copied.path.exists() and (output / "pred.txt").exists()  # the run's own folder stays


def test_links_hard_links_fifos_and_sockets_are_left_out_and_named(tmp_path: Path) -> None:
    anchor, output = _output(tmp_path)
    secret = tmp_path / "labels.txt"
    secret.write_text("the answer")
    (output / "link.txt").symlink_to(secret)
    (output / "linked-folder").symlink_to(tmp_path)
    os.link(secret, output / "hard.txt")
    os.mkfifo(output / "fifo.txt")
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(output / "sock"))
    started = time.monotonic()
    try:
        copied = consumed.copy_output(output, anchor / "exp" / "given", anchor)
    finally:
        server.close()
    assert time.monotonic() - started < 5  # a FIFO nobody writes to does not block the copy
    assert sorted(p.name for p in copied.path.iterdir()) == []
    assert sorted(copied.skipped) == [
        "fifo.txt (a FIFO)",
        "hard.txt (a hard link)",
        "link.txt (a symlink)",
        "linked-folder (a symlink)",
        "sock (a socket)",
    ]
    assert "link.txt (a symlink)" in copied.note()


def test_a_missing_output_folder_or_one_replaced_by_a_link_gives_an_empty_copy(tmp_path: Path) -> None:
    anchor, output = _output(tmp_path)
    output.rmdir()
    assert list(consumed.copy_output(output, anchor / "exp" / "given", anchor).path.iterdir()) == []
    output.symlink_to(tmp_path)  # the labels' folder, say
    copied = consumed.copy_output(output, anchor / "exp" / "given", anchor)
    assert list(copied.path.iterdir()) == []


def test_the_copy_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    anchor, output = _output(tmp_path)
    monkeypatch.setattr(consumed, "MAX_BYTES", 1000)
    (output / "a.bin").write_bytes(b"a" * 600)
    (output / "b.bin").write_bytes(b"b" * 600)
    copied = consumed.copy_output(output, anchor / "exp" / "given", anchor)
    assert [p.name for p in copied.path.iterdir()] == ["a.bin"]
    assert copied.skipped and copied.skipped[0].startswith("b.bin (over the")
