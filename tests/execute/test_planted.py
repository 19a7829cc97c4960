"""execute/planted.py: hook files and shadowing modules a run leaves where guards and the holdout run."""

from __future__ import annotations

from pathlib import Path

from autoresearch.execute.planted import Snapshot, shadowing


def _folder(tmp_path: Path) -> Path:
    root = tmp_path / "study"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "types.py").write_text("")  # inside a package: shadows nothing
    (root / "train.py").write_text("")
    (root / "conftest.py").write_text("# the user's own\n")
    return root


def test_nothing_planted_is_nothing_refused(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    snapshot = Snapshot.of(root)
    assert snapshot.planted(root) == [] and snapshot.refuse(root, root) is None


def test_new_hooks_and_top_level_modules_are_refused_and_removed(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    snapshot = Snapshot.of(root)
    (root / "sub").mkdir()
    (root / "sub" / "conftest.py").write_text("import os\nos._exit(0)\n")
    (root / "sitecustomize.py").write_text("")
    (root / "statistics.py").write_text("")
    (root / "numpy").mkdir()
    (root / "numpy" / "__init__.py").write_text("")
    (root / "pkg" / "json.py").write_text("")  # inside a package: not an import root's module
    (root / "evil.pth").write_text("import os\n")
    (root / "out.txt").write_text("a result")  # not importable: allowed
    planted = ["evil.pth", "numpy", "sitecustomize.py", "statistics.py", "sub/conftest.py"]
    assert snapshot.planted(root) == planted
    reason = snapshot.refuse(root, root)
    assert reason is not None and "sitecustomize.py" in reason and "removed" in reason
    assert not any((root / p).exists() for p in planted)
    assert (root / "out.txt").exists() and (root / "pkg" / "json.py").exists() and (root / "sub").is_dir()
    assert snapshot.refuse(root, root) is None


def test_a_changed_hook_is_refused_but_left_for_the_user(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    snapshot = Snapshot.of(root)
    (root / "conftest.py").write_text("import os\nos._exit(0)\n")
    reason = snapshot.refuse(root, root)
    assert reason is not None and "conftest.py" in reason
    assert (root / "conftest.py").exists()  # the user's file: autoresearch does not delete it
    assert snapshot.refuse(root, root) is not None  # still refused until restored
    (root / "conftest.py").write_text("# the user's own\n")
    assert snapshot.refuse(root, root) is None


def test_shadowing_in_a_commit(tmp_path: Path) -> None:
    paths = ["conftest.py", "src/json.py", "pkg/json.py", "train.py", "logging/__init__.py", "setup.cfg", "a.pth"]
    expected = ["conftest.py", "src/json.py", "logging/__init__.py", "setup.cfg", "a.pth"]
    assert shadowing(paths, {"pkg": True}) == expected
