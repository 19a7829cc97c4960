"""Hidden data and git's folder stay hidden under bwrap whatever the shape of their paths (links,
hard links, a checkout that is a linked worktree)."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path

from autoresearch.execute import sandbox
from autoresearch.execute.hidden import hidden_paths
from autoresearch.spec import Spec, load_spec
from tests.conftest import PYTHON

SPEC = """
    [study]
    name = "h"
    [run]
    command = "true"
    [metric]
    name = "loss"
    [params]
    x = { low = 0, high = 1 }
    [scorer]
    command = "true"
    data = ["labels"]
    [sandbox]
    kind = "bwrap"
"""


def _spec(root: Path) -> Spec:
    root.mkdir(parents=True, exist_ok=True)
    (root / "autoresearch.toml").write_text(textwrap.dedent(SPEC))
    return load_spec(root)


def _read_inside(spec: Spec, *paths: Path) -> list[str]:
    """What a sandboxed run in the spec's folder reads at PATHS ('' where it cannot)."""
    script = textwrap.dedent("""
        import json, sys
        for path in sys.argv[1:]:
            try:
                print(json.dumps(open(path).read()))
            except OSError:
                print(json.dumps(""))
    """)
    argv = [*sandbox.prefix(spec, sandbox.View(spec.root)), PYTHON, "-c", script, *map(str, paths)]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=spec.root)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_data_that_is_a_link_is_hidden_at_its_target_and_through_every_alias(tmp_path: Path) -> None:
    root = tmp_path / "study"
    (root / "store" / "real").mkdir(parents=True)
    (root / "store" / "real" / "truth.txt").write_text("42")
    (root / "labels").symlink_to("store/real")
    (root / "other-alias").symlink_to("store/real")
    spec = _spec(root)
    seen = _read_inside(
        spec, root / "labels" / "truth.txt", root / "store" / "real" / "truth.txt", root / "other-alias" / "truth.txt"
    )
    assert seen == ["", "", ""]


def test_a_hidden_files_hard_links_in_the_spec_folder_are_hidden_too(tmp_path: Path) -> None:
    root = tmp_path / "study"
    root.mkdir()
    (root / "labels").write_text("42")
    os.link(root / "labels", root / "copy-of-labels")
    spec = _spec(root)
    assert _read_inside(spec, root / "labels", root / "copy-of-labels") == ["", ""]


def test_a_linked_worktrees_git_folders_are_hidden(tmp_path: Path) -> None:
    source, bare, root = tmp_path / "src", tmp_path / "bare.git", tmp_path / "study"
    source.mkdir()
    (source / "labels").write_text("42")
    identity = ["-c", "user.name=u", "-c", "user.email=u@x"]
    for cwd, args in [
        (source, ["init", "-q"]),
        (source, ["add", "-A"]),
        (source, [*identity, "commit", "-qm", "i"]),
        (tmp_path, ["clone", "-q", "--bare", str(source), str(bare)]),
        (bare, ["worktree", "add", "-q", "--detach", str(root)]),
    ]:
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)
    bare.rename(root / ".repo.git")  # inside the run's folder, where the sandbox would show it
    subprocess.run(["git", "worktree", "repair", str(root)], cwd=root / ".repo.git", capture_output=True)
    spec = _spec(root)
    hidden = hidden_paths(spec)
    assert root / ".git" in hidden
    assert (root / ".repo.git").resolve() in hidden and (root / ".repo.git" / "worktrees" / "study").resolve() in hidden
    argv = [*sandbox.prefix(spec, sandbox.View(root)), "git", "show", "HEAD:labels"]
    outside = subprocess.run(argv[argv.index("git") :], capture_output=True, text=True, cwd=root, timeout=60)
    assert outside.stdout == "42"  # git works here: the data is in the repository
    inside = subprocess.run(argv, capture_output=True, text=True, cwd=root, timeout=60)
    assert inside.returncode != 0 and "42" not in inside.stdout
