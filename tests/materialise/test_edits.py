"""Edit formats, strict matching, protection, editable regions and atomic application."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch.materialise.edits import (
    EditError,
    apply_edits,
    detect_format,
    parse_edits,
    plan_edits,
    unified_diff,
)
from autoresearch.materialise.globs import matches

TRAIN = """import math


def lr_schedule(step):
    base = 0.1
    return base * math.exp(-step / 100)


def main():
    for step in range(10):
        print(lr_schedule(step))
"""


def write(root: Path, files: dict[str, str]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(content)


def apply(
    root: Path,
    text: str,
    editable: list[str] | None = None,
    protected: list[str] | None = None,
    fmt: str | None = None,
) -> list[str]:
    return apply_edits(root, parse_edits(text, fmt), editable=editable or ["**"], protected=protected or [])


def reason(root: Path, text: str, **kwargs: list[str]) -> str:
    with pytest.raises(EditError) as caught:
        apply(root, text, **kwargs)  # type: ignore[arg-type]
    return caught.value.reason


# ---------------------------------------------------------------------------------------- SEARCH/REPLACE


def test_search_replace_basic_with_fence_and_file_prefix(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    text = (
        "I will lower the learning rate.\n\n"
        "File: train.py\n```python\n<<<<<<< SEARCH\n    base = 0.1\n=======\n    base = 0.05\n"
        ">>>>>>> REPLACE\n```\n"
    )
    assert detect_format(text) == "search_replace"
    assert apply(tmp_path, text) == ["train.py"]
    assert (tmp_path / "train.py").read_text() == TRAIN.replace("base = 0.1", "base = 0.05")


def test_consecutive_blocks_reuse_the_path_and_apply_in_order(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    text = (
        "train.py\n<<<<<<< SEARCH\n    base = 0.1\n=======\n    base = 0.2\n>>>>>>> REPLACE\n"
        "<<<<<<< SEARCH\n    base = 0.2\n=======\n    base = 0.3\n>>>>>>> REPLACE\n"
    )
    edits = parse_edits(text)
    assert [edit.path for edit in edits] == ["train.py", "train.py"]
    apply(tmp_path, text)
    assert "base = 0.3" in (tmp_path / "train.py").read_text()


def test_empty_search_creates_a_new_file(tmp_path: Path) -> None:
    text = "pkg/new.py\n<<<<<<< SEARCH\n=======\nVALUE = 1\n>>>>>>> REPLACE\n"
    assert apply(tmp_path, text) == ["pkg/new.py"]
    assert (tmp_path / "pkg/new.py").read_text() == "VALUE = 1\n"


def test_empty_search_on_existing_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    text = "train.py\n<<<<<<< SEARCH\n=======\nx = 1\n>>>>>>> REPLACE\n"
    assert "SEARCH section is empty but train.py already exists" in reason(tmp_path, text)


def test_search_not_found_shows_the_closest_lines(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    text = (
        "train.py\n<<<<<<< SEARCH\n    base = 0.3\n    return base * math.exp(-step / 50)\n=======\n"
        "    pass\n>>>>>>> REPLACE\n"
    )
    why = reason(tmp_path, text)
    assert "SEARCH text was not found in train.py (SEARCH/REPLACE block at line 2)" in why
    assert "5 |     base = 0.1" in why
    assert "6 |     return base * math.exp(-step / 100)" in why
    assert (tmp_path / "train.py").read_text() == TRAIN


def test_ambiguous_search_is_refused_with_the_count(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "x = 1\ny = 2\nx = 1\n"})
    text = "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 3\n>>>>>>> REPLACE\n"
    assert "matches 2 places in a.py (lines 1, 3)" in reason(tmp_path, text)


def test_whitespace_fallback_trailing_spaces(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "def f():   \n    return 1\n"})
    text = "a.py\n<<<<<<< SEARCH\ndef f():\n    return 1\n=======\ndef f():\n    return 2\n>>>>>>> REPLACE\n"
    apply(tmp_path, text)
    assert (tmp_path / "a.py").read_text() == "def f():\n    return 2\n"


def test_whitespace_fallback_reindents_the_replacement(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    # Quoted at the wrong depth (no indentation); the replacement is shifted to the file's depth.
    text = (
        "train.py\n<<<<<<< SEARCH\nfor step in range(10):\n    print(lr_schedule(step))\n=======\n"
        "for step in range(20):\n    if step % 2:\n        print(lr_schedule(step))\n>>>>>>> REPLACE\n"
    )
    apply(tmp_path, text)
    assert (
        TRAIN.replace(
            "    for step in range(10):\n        print(lr_schedule(step))\n",
            "    for step in range(20):\n        if step % 2:\n            print(lr_schedule(step))\n",
        )
        == (tmp_path / "train.py").read_text()
    )


def test_whitespace_fallback_refuses_ambiguity(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "if a:\n    x = 1\nif b:\n        x = 1\n"})
    text = "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    assert "matches 2 places in a.py (lines 2, 4)" in reason(tmp_path, text)


def test_exact_match_wins_over_a_fuzzy_one(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "x = 1\nif b:\n    x = 1\n"})
    text = "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n"
    apply(tmp_path, text)
    assert (tmp_path / "a.py").read_text() == "x = 2\nif b:\n    x = 1\n"


def test_crlf_files_keep_their_line_endings(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_bytes(b"a = 1\r\nb = 2\r\n")
    apply(tmp_path, "a.py\n<<<<<<< SEARCH\nb = 2\n=======\nb = 3\n>>>>>>> REPLACE\n")
    assert (tmp_path / "a.py").read_bytes() == b"a = 1\r\nb = 3\r\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a.py\n<<<<<<< SEARCH\nx\n>>>>>>> REPLACE\n", "starting at line 2 is missing its `=======`"),
        ("a.py\n<<<<<<< SEARCH\nx\n=======\ny\n", "starting at line 2 is missing its `>>>>>>> REPLACE`"),
        ("<<<<<<< SEARCH\nx\n=======\ny\n>>>>>>> REPLACE\n", "line 1: SEARCH block without a file path"),
        (
            "a.py\n=======\ny\n>>>>>>> REPLACE\n<<<<<<< SEARCH\n",
            "malformed edit at line 4: `>>>>>>> REPLACE`",
        ),
    ],
)
def test_malformed_blocks_name_the_line(text: str, expected: str) -> None:
    with pytest.raises(EditError) as caught:
        parse_edits(text, "search_replace")
    assert expected in caught.value.reason


def test_markdown_heading_underline_in_prose_is_not_a_divider(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "x = 1\n"})
    text = "Plan\n=======\nLower x.\n\na.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 0\n>>>>>>> REPLACE\n"
    assert apply(tmp_path, text) == ["a.py"]
    assert (tmp_path / "a.py").read_text() == "x = 0\n"


def test_unrecognised_text_explains_the_formats() -> None:
    with pytest.raises(EditError, match="no edits found: expected SEARCH/REPLACE"):
        parse_edits("I think we should lower the learning rate.")


# ---------------------------------------------------------------------------------------- unified diff


def test_diff_round_trip_with_drift_creation_and_deletion(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN, "old.py": "gone = True\n"})
    new_train = TRAIN.replace("base = 0.1", "base = 0.02").replace("range(10)", "range(30)")
    text = unified_diff(
        {"train.py": TRAIN, "old.py": "gone = True\n"},
        {"train.py": new_train, "new/mod.py": "created = 1\n"},
    )
    assert detect_format(text) == "diff"
    # Three lines were added at the top since the diff was made: hunks must still land.
    write(tmp_path, {"train.py": "# a\n# b\n# c\n" + TRAIN})
    assert apply(tmp_path, text) == ["new/mod.py", "old.py", "train.py"]
    assert (tmp_path / "train.py").read_text() == "# a\n# b\n# c\n" + new_train
    assert (tmp_path / "new/mod.py").read_text() == "created = 1\n"
    assert not (tmp_path / "old.py").exists()


def test_diff_without_prefixes_and_stripped_blank_context(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    # LLM-style: no a/ b/ prefixes, wrong counts, and the blank context line lost its space.
    text = (
        "--- train.py\n+++ train.py\n@@ -4,3 +4,3 @@\n def lr_schedule(step):\n-    base = 0.1\n"
        "+    base = 0.5\n     return base * math.exp(-step / 100)\n\n\n def main():\n"
    )
    apply(tmp_path, text, fmt="diff")
    assert (tmp_path / "train.py").read_text() == TRAIN.replace("base = 0.1", "base = 0.5")


def test_diff_hunk_that_does_not_apply(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    text = "--- a/train.py\n+++ b/train.py\n@@ -5,1 +5,1 @@\n-    base = 0.7\n+    base = 0.5\n"
    why = reason(tmp_path, text)
    assert "the hunk at line 3 of the diff does not apply to train.py" in why
    assert "5 |     base = 0.1" in why


def test_diff_prefers_the_occurrence_nearest_the_header(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "x = 1\n" + "pass\n" * 10 + "x = 1\n"})
    text = "--- a/a.py\n+++ b/a.py\n@@ -12,1 +12,1 @@\n-x = 1\n+x = 2\n"
    apply(tmp_path, text)
    assert (tmp_path / "a.py").read_text() == "x = 1\n" + "pass\n" * 10 + "x = 2\n"


def test_diff_creating_an_existing_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "x = 1\n"})
    text = "--- /dev/null\n+++ b/a.py\n@@ -0,0 +1 @@\n+y = 1\n"
    assert "creates a.py (from /dev/null), but it already exists" in reason(tmp_path, text)


def test_diff_header_without_hunks_is_malformed() -> None:
    with pytest.raises(EditError, match="malformed diff at line 1: file header without `@@` hunks"):
        parse_edits("--- a/x.py\n+++ b/x.py\n", "diff")


def test_diff_no_newline_marker(tmp_path: Path) -> None:
    write(tmp_path, {"a.txt": "one\ntwo\n"})
    text = unified_diff({"a.txt": "one\ntwo\n"}, {"a.txt": "one\nthree"})
    assert "\\ No newline at end of file" in text
    apply(tmp_path, text)
    assert (tmp_path / "a.txt").read_text() == "one\nthree"


# ---------------------------------------------------------------------------------------- whole files


def test_whole_files_with_fences(tmp_path: Path) -> None:
    write(tmp_path, {"train.py": TRAIN})
    text = "Here you go.\n=== train.py ===\n```python\nprint('new')\n```\n\n=== lib/util.py ===\nX = 1\n\n\n"
    assert detect_format(text) == "whole"
    assert apply(tmp_path, text) == ["lib/util.py", "train.py"]
    assert (tmp_path / "train.py").read_text() == "print('new')\n"
    assert (tmp_path / "lib/util.py").read_text() == "X = 1\n"


def test_whole_files_from_json_and_mapping(tmp_path: Path) -> None:
    apply(tmp_path, '{"a.py": "A = 1\\n"}')
    assert (tmp_path / "a.py").read_text() == "A = 1\n"
    edits = parse_edits({"b.py": "B = 2\n"})
    assert apply_edits(tmp_path, edits, editable=["*.py"], protected=[]) == ["b.py"]
    assert (tmp_path / "b.py").read_text() == "B = 2\n"


def test_unchanged_content_is_not_reported(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "A = 1\n"})
    assert apply(tmp_path, "=== a.py ===\nA = 1\n") == []


# ---------------------------------------------------------------------------------------- permissions


def test_protected_file_is_refused_even_if_editable(tmp_path: Path) -> None:
    write(tmp_path, {"evaluate.py": "score = 1\n"})
    why = reason(tmp_path, "=== evaluate.py ===\nscore = 100\n", editable=["*.py"], protected=["evaluate.py"])
    assert why == "evaluate.py is protected (protected: evaluate.py); it must not be edited"
    assert (tmp_path / "evaluate.py").read_text() == "score = 1\n"


def test_non_editable_file_lists_the_editable_globs(tmp_path: Path) -> None:
    write(tmp_path, {"data/prep.py": "x = 1\n"})
    why = reason(tmp_path, "=== data/prep.py ===\nx = 2\n", editable=["train.py", "model/**"])
    assert why == "data/prep.py is not editable; editable files match: train.py, model/**"


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", ".git/config"])
def test_paths_outside_the_repository_are_refused(tmp_path: Path, path: str) -> None:
    assert "not a relative path inside the repository" in reason(tmp_path, f"=== {path} ===\nx\n")


def test_symlink_escaping_the_root_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    root.mkdir()
    (tmp_path / "secret.py").write_text("s = 1\n")
    (root / "link.py").symlink_to(tmp_path / "secret.py")
    assert "resolves outside the repository" in reason(root, "=== link.py ===\ns = 2\n")
    assert (tmp_path / "secret.py").read_text() == "s = 1\n"


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("train.py", "train.py", True),
        ("src/train.py", "train.py", False),
        ("src/a/b.py", "src/**", True),
        ("src/a/b.py", "src/*.py", False),
        ("b.py", "**/*.py", True),
        ("x/y/b.py", "**/*.py", True),
        ("src/a/b.py", "src/", True),
        ("k1.cu", "k[0-9].cu", True),
    ],
)
def test_glob_semantics(path: str, pattern: str, expected: bool) -> None:
    assert matches(path, pattern) is expected


# ---------------------------------------------------------------------------------------- regions

REGIONED = """import torch
# autoresearch: begin
LR = 0.1
DEPTH = 4
# autoresearch: end
def evaluate():
    return 42
// autoresearch: begin
KERNEL = "a"
// autoresearch: end
"""


def test_edits_inside_regions_are_allowed(tmp_path: Path) -> None:
    write(tmp_path, {"m.py": REGIONED})
    apply(
        tmp_path,
        "m.py\n<<<<<<< SEARCH\nLR = 0.1\n=======\nLR = 0.2\nWARMUP = 10\n>>>>>>> REPLACE\n"
        'm.py\n<<<<<<< SEARCH\nKERNEL = "a"\n=======\nKERNEL = "b"\n>>>>>>> REPLACE\n',
    )
    assert (tmp_path / "m.py").read_text() == REGIONED.replace("LR = 0.1\n", "LR = 0.2\nWARMUP = 10\n").replace(
        '"a"', '"b"'
    )


def test_edit_outside_regions_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"m.py": REGIONED})
    why = reason(tmp_path, "m.py\n<<<<<<< SEARCH\n    return 42\n=======\n    return 43\n>>>>>>> REPLACE\n")
    assert why == (
        "m.py: the edit changes line 7, which is outside the editable regions; only lines strictly between "
        "`autoresearch: begin` and `autoresearch: end` may change (editable lines: 3-4, 9-9)"
    )


def test_edit_touching_a_marker_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"m.py": REGIONED})
    text = "m.py\n<<<<<<< SEARCH\n# autoresearch: end\n=======\n# autoresearch: end (frozen)\n>>>>>>> REPLACE\n"
    assert "changes line 5, which is outside the editable regions" in reason(tmp_path, text)
    with pytest.raises(EditError, match="cannot be deleted"):
        apply(tmp_path, "--- a/m.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-import torch\n")
    text = "m.py\n<<<<<<< SEARCH\n# autoresearch: end\n=======\n>>>>>>> REPLACE\n"
    assert "adds, removes or changes an `autoresearch: begin/end` marker" in reason(tmp_path, text)


def test_whole_file_replacement_respects_regions(tmp_path: Path) -> None:
    write(tmp_path, {"m.py": REGIONED})
    assert "outside the editable regions" in reason(
        tmp_path,
        "=== m.py ===\nprint('hi')\n# autoresearch: "
        "begin\n# autoresearch: end\n// autoresearch: "
        "begin\n// autoresearch: end\n",
    )
    assert "adds, removes or changes an `autoresearch: begin/end` marker" in reason(
        tmp_path, "=== m.py ===\nprint('hi')\n"
    )


# ---------------------------------------------------------------------------------------- atomicity


def test_one_bad_edit_writes_nothing(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "a = 1\n", "b.py": "b = 1\n"})
    text = (
        "a.py\n<<<<<<< SEARCH\na = 1\n=======\na = 2\n>>>>>>> REPLACE\n"
        "c.py\n<<<<<<< SEARCH\n=======\nc = 1\n>>>>>>> REPLACE\n"
        "b.py\n<<<<<<< SEARCH\nb = 9\n=======\nb = 2\n>>>>>>> REPLACE\n"
    )
    assert "SEARCH text was not found in b.py" in reason(tmp_path, text)
    assert (tmp_path / "a.py").read_text() == "a = 1\n"
    assert (tmp_path / "b.py").read_text() == "b = 1\n"
    assert not (tmp_path / "c.py").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]


def test_failed_write_restores_files_already_written(tmp_path: Path) -> None:
    write(tmp_path, {"a.py": "a = 1\n"})
    # `blocker` is a file, so creating blocker/b.py fails after a.py was already written.
    (tmp_path / "blocker").write_text("")
    with pytest.raises(OSError):
        apply(tmp_path, "=== a.py ===\na = 2\n=== blocker/b.py ===\nb = 1\n")
    assert (tmp_path / "a.py").read_text() == "a = 1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "blocker"]


def test_executable_bit_is_kept(tmp_path: Path) -> None:
    write(tmp_path, {"run.sh": "echo 1\n"})
    (tmp_path / "run.sh").chmod(0o755)
    apply(tmp_path, "=== run.sh ===\necho 2\n")
    assert (tmp_path / "run.sh").stat().st_mode & 0o777 == 0o755


def test_plan_edits_validates_against_any_reader() -> None:
    files = {"train.py": TRAIN}
    text = "train.py\n<<<<<<< SEARCH\n    base = 0.1\n=======\n    base = 1.0\n>>>>>>> REPLACE\n"
    edits = parse_edits(text)
    plan = plan_edits(edits, files.get, editable=["train.py"], protected=[])
    assert plan == {"train.py": TRAIN.replace("0.1", "1.0")}
