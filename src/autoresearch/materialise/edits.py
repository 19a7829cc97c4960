"""Edit formats for code mode and their strict, atomic application.

Three formats are understood (`parse_edits` detects which when `fmt` is None):

``search_replace`` - aider/OpenEvolve blocks; the file path is the line before `<<<<<<< SEARCH`
(fences and a `File:` prefix are tolerated; a block without a path reuses the previous block's)::

    train.py
    <<<<<<< SEARCH
    lr = 0.1
    =======
    lr = 0.05
    >>>>>>> REPLACE

An empty SEARCH section creates a file that does not exist yet.

``diff`` - unified diffs (`--- a/x`, `+++ b/x`, `@@ -l,n +l,n @@`). Hunks are matched by their
context and removed lines near the stated line (drift tolerated), or anywhere if unique.
`--- /dev/null` creates a file, `+++ /dev/null` deletes one.

``whole`` - complete file contents, each introduced by a header line `=== path ===`::

    === train.py ===
    <full content>
    === utils/helpers.py ===
    <full content>

A content wrapped in a ``` fence is unwrapped; trailing blank lines are dropped and the file ends with
one newline. A JSON object `{"path": "content"}` (or a dict, from Python) is accepted as well.

`apply_edits` validates every edit before writing anything: protected files, editable globs,
editable regions (see `regions.py`), matching (exact, then whitespace-tolerant, never ambiguous).
Each failure is an `EditError` whose `reason` is written for an LLM to fix its next attempt.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from autoresearch.materialise.globs import matches_any, normalize_path
from autoresearch.materialise.matching import Ambiguous, NotFound, closest, locate
from autoresearch.materialise.regions import RegionError, find_regions, region_violation

FORMATS = ("search_replace", "diff", "whole")
_ALIASES = {
    "search_replace": "search_replace",
    "search-replace": "search_replace",
    "sr": "search_replace",
    "diff": "diff",
    "udiff": "diff",
    "unified": "diff",
    "unified_diff": "diff",
    "whole": "whole",
    "whole_file": "whole",
    "files": "whole",
}
DIFF_DRIFT = 40  # how far (lines) a hunk may sit from the line its header names


class EditError(Exception):
    """Edits that cannot be parsed or applied; `reason` says precisely why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Hunk:
    old: tuple[str, ...]  # context and removed lines, in order
    new: tuple[str, ...]  # context and added lines, in order
    old_start: int | None  # 1-based line from the @@ header, None when it gave none
    line: int  # line of the @@ header in the edit text
    new_no_eol: bool = False  # "\ No newline at end of file" after the new side's last line


@dataclass(frozen=True)
class FileEdit:
    """One change to one file. `kind`: search_replace, diff, whole or delete."""

    path: str
    kind: str
    search: tuple[str, ...] = ()
    replace: tuple[str, ...] = ()
    hunks: tuple[Hunk, ...] = ()
    content: str | None = None  # whole: the new content; diff: set for a created file
    line: int = 0  # where the edit starts in the edit text (1-based), for messages


# ---------------------------------------------------------------------------------------------- parsing

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_WHOLE_HEADER = re.compile(r"^===\s+(\S.*?)\s+===\s*$")
_HUNK_HEADER = re.compile(r"^@@\s*(?:-(\d+)(?:,\d+)?\s+\+\d+(?:,\d+)?)?\s*@@")


def parse_edits(text: str | Mapping[str, str], fmt: str | None = None) -> list[FileEdit]:
    """Parse edits in `fmt` (search_replace, diff, whole) or, when None, whichever `text` uses."""
    if isinstance(text, Mapping):
        return whole_file_edits(text)
    if fmt is not None:
        if fmt not in _ALIASES:
            raise EditError(f"unknown edit format {fmt!r}; use one of {', '.join(FORMATS)}")
        fmt = _ALIASES[fmt]
    else:
        fmt = detect_format(text)
    if fmt == "search_replace":
        edits = _parse_search_replace(text)
    elif fmt == "diff":
        edits = _parse_diff(text)
    else:
        edits = _parse_whole(text)
    if not edits:
        raise EditError(f"no {fmt} edits found in the text")
    return edits


def detect_format(text: str) -> str:
    if re.search(r"^\s*<{5,9}\s*SEARCH\s*$", text, re.MULTILINE):
        return "search_replace"
    if re.search(r"^\+\+\+ ", text, re.MULTILINE) and re.search(r"^@@", text, re.MULTILINE):
        return "diff"
    if re.search(_WHOLE_HEADER.pattern, text, re.MULTILINE) or text.lstrip().startswith("{"):
        return "whole"
    raise EditError(
        "no edits found: expected SEARCH/REPLACE blocks (path line, `<<<<<<< SEARCH`, `=======`, "
        "`>>>>>>> REPLACE`), a unified diff (`--- a/path`, `+++ b/path`, `@@` hunks) "
        "or whole files (`=== path ===` followed by the full content)"
    )


def whole_file_edits(files: Mapping[str, str]) -> list[FileEdit]:
    """Whole-file edits from {path: content}."""
    edits = []
    for path, content in files.items():
        if not isinstance(path, str) or not isinstance(content, str):
            raise EditError("whole-file edits must map file paths (strings) to contents (strings)")
        edits.append(FileEdit(path=path, kind="whole", content=content))
    return edits


def _clean_path(line: str) -> str:
    text = line.strip().strip("#*` ").strip()
    text = re.sub(r"^(?:file(?:name)?|path)\s*:\s*", "", text, flags=re.IGNORECASE)
    return text.strip("`*' \"").rstrip(":").strip()


def _parse_search_replace(text: str) -> list[FileEdit]:
    lines = text.splitlines()
    edits: list[FileEdit] = []
    last_path: str | None = None
    index = 0
    while index < len(lines):
        if not _SEARCH.match(lines[index]):
            # A stray `=======` may be prose (a Markdown heading underline); a stray REPLACE is not.
            if _REPLACE.match(lines[index]):
                raise EditError(
                    f"malformed edit at line {index + 1}: `{lines[index].strip()}` "
                    "outside a SEARCH/REPLACE block (missing `<<<<<<< SEARCH`?)"
                )
            index += 1
            continue
        start = index
        back = index - 1
        while back >= 0 and (not lines[back].strip() or _FENCE.match(lines[back])):
            back -= 1
        path = None
        if back >= 0 and not _REPLACE.match(lines[back]):
            path = _clean_path(lines[back]) or None
        path = path or last_path
        if path is None:
            raise EditError(
                f"malformed edit at line {start + 1}: SEARCH block without a file path; "
                "put the path on the line before `<<<<<<< SEARCH`"
            )
        search, index = _collect(lines, index + 1, _DIVIDER, start, "`=======`")
        replace, index = _collect(lines, index + 1, _REPLACE, start, "`>>>>>>> REPLACE`")
        edits.append(
            FileEdit(path=path, kind="search_replace", search=tuple(search), replace=tuple(replace), line=start + 1)
        )
        last_path = path
        index += 1
    return edits


def _collect(lines: list[str], index: int, end: re.Pattern[str], start: int, name: str) -> tuple[list[str], int]:
    out: list[str] = []
    while index < len(lines):
        line = lines[index]
        if end.match(line):
            return out, index
        if _SEARCH.match(line) or _DIVIDER.match(line) or _REPLACE.match(line):
            break
        out.append(line)
        index += 1
    where = f"line {index + 1}" if index < len(lines) else "the end of the text"
    raise EditError(
        f"malformed edit: the SEARCH/REPLACE block starting at line {start + 1} "
        f"is missing its {name} line (found {where} first)"
    )


def _parse_whole(text: str) -> list[FileEdit]:
    if text.lstrip().startswith("{") and not re.search(_WHOLE_HEADER.pattern, text, re.MULTILINE):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise EditError(f"malformed JSON whole-file edits at line {error.lineno}: {error.msg}") from None
        if not isinstance(data, dict):
            raise EditError('JSON whole-file edits must be an object {"path": "content"}')
        return whole_file_edits(data)
    lines = text.splitlines()
    edits: list[FileEdit] = []
    current: tuple[str, int] | None = None
    body: list[str] = []
    for number, line in enumerate([*lines, None], start=1):
        header = _WHOLE_HEADER.match(line) if line is not None else None
        if line is not None and header is None:
            body.append(line)
            continue
        if current is not None:
            edits.append(FileEdit(path=current[0], kind="whole", content=_whole_content(body), line=current[1]))
        if header is not None:
            current, body = (header.group(1), number), []
    return edits


def _whole_content(body: list[str]) -> str:
    while body and not body[-1].strip():
        body = body[:-1]
    while body and not body[0].strip():
        body = body[1:]
    if len(body) >= 2 and _FENCE.match(body[0]) and body[-1].strip() in ("```", "~~~"):
        body = body[1:-1]
    return "\n".join(body) + "\n" if body else ""


def _diff_path(header: str, prefix: str) -> str | None:
    path = header.split("\t", 1)[0].strip()
    if path == "/dev/null":
        return None
    if path.startswith('"') and path.endswith('"'):
        path = path[1:-1]
    return path.removeprefix(prefix)


def _is_file_header(lines: list[str], index: int) -> bool:
    return lines[index].startswith("--- ") and index + 1 < len(lines) and lines[index + 1].startswith("+++ ")


def _parse_diff(text: str) -> list[FileEdit]:
    lines = text.splitlines()
    edits: list[FileEdit] = []
    index = 0
    while index < len(lines):
        if not _is_file_header(lines, index):
            index += 1
            continue
        start = index
        old_path = _diff_path(lines[index][4:], "a/")
        new_path = _diff_path(lines[index + 1][4:], "b/")
        index += 2
        hunks: list[Hunk] = []
        while index < len(lines) and lines[index].startswith("@@"):
            hunk, index = _parse_hunk(lines, index)
            hunks.append(hunk)
        if not hunks:
            raise EditError(f"malformed diff at line {start + 1}: file header without `@@` hunks")
        if old_path is None and new_path is None:
            raise EditError(f"malformed diff at line {start + 1}: both sides are /dev/null")
        if old_path is not None and new_path is not None and old_path != new_path:
            raise EditError(
                f"malformed diff at line {start + 1}: renames ({old_path} -> {new_path}) "
                "are not supported; delete and create the file instead"
            )
        if new_path is None:
            assert old_path is not None
            edits.append(FileEdit(path=old_path, kind="delete", line=start + 1))
        elif old_path is None:
            added = [line for hunk in hunks for line in hunk.new]
            content = "\n".join(added) + ("" if hunks[-1].new_no_eol or not added else "\n")
            edits.append(FileEdit(path=new_path, kind="diff", content=content, line=start + 1))
        else:
            edits.append(FileEdit(path=new_path, kind="diff", hunks=tuple(hunks), line=start + 1))
    return edits


def _parse_hunk(lines: list[str], index: int) -> tuple[Hunk, int]:
    header = _HUNK_HEADER.match(lines[index])
    if header is None:
        raise EditError(
            f"malformed diff at line {index + 1}: bad hunk header {lines[index]!r}; "
            "expected `@@ -start,count +start,count @@`"
        )
    line_number = index + 1
    old: list[str] = []
    new: list[str] = []
    new_no_eol = False
    last_sign = ""
    index += 1
    while index < len(lines):
        line = lines[index]
        if line.startswith("@@") or _is_file_header(lines, index) or line.startswith("diff --git"):
            break
        if line == "":
            # Editors and LLMs strip the space of empty context lines; keep it only inside the hunk.
            ahead = index + 1
            while ahead < len(lines) and lines[ahead] == "":
                ahead += 1
            if ahead >= len(lines) or lines[ahead][:1] not in (" ", "-", "+", "\\") or _is_file_header(lines, ahead):
                break
            line = " "
        sign, body = line[:1], line[1:]
        if sign == " ":
            old.append(body)
            new.append(body)
        elif sign == "-":
            old.append(body)
        elif sign == "+":
            new.append(body)
        elif sign == "\\":
            new_no_eol = new_no_eol or last_sign in ("+", " ")
        else:
            break
        last_sign = sign
        index += 1
    old_start = int(header.group(1)) if header.group(1) is not None else None
    return Hunk(tuple(old), tuple(new), old_start, line_number, new_no_eol), index


# ---------------------------------------------------------------------------------------------- applying


@dataclass
class _Text:
    """File content as lines without endings, remembering the ending style to write it back."""

    lines: list[str]
    eol: str
    trailing: bool

    @classmethod
    def of(cls, content: str) -> _Text:
        eol = "\r\n" if "\r\n" in content else "\n"
        lines = content.split(eol)
        trailing = content == "" or content.endswith(eol)
        if content.endswith(eol):
            lines.pop()
        return cls([] if content == "" else lines, eol, trailing)

    def render(self) -> str:
        return self.eol.join(self.lines) + (self.eol if self.trailing and self.lines else "")


Reader = Callable[[str], str | None]  # repository-relative path -> content, None when missing


def plan_edits(
    edits: list[FileEdit], read: Reader, *, editable: list[str], protected: list[str]
) -> dict[str, str | None]:
    """The new content (None: deleted) of every file the edits change, without writing anything.

    `read` supplies current contents, so this validates edits against a commit as well as a checkout.
    """
    original: dict[str, str | None] = {}
    current: dict[str, str | None] = {}
    for edit in edits:
        path = normalize_path(edit.path)
        if path is None:
            raise EditError(f"{edit.path!r} is not a relative path inside the repository")
        if is_git_path(path):
            raise EditError(
                f"{path} is a git file (.git*: attributes, submodules, ignore rules, the repository itself); "
                "git reads it to decide what a checkout contains, so no candidate may change it"
            )
        if matches_any(path, protected):
            raise EditError(f"{path} is protected (protected: {', '.join(protected)}); it must not be edited")
        if not matches_any(path, editable):
            globs = ", ".join(editable) or "(none)"
            raise EditError(f"{path} is not editable; editable files match: {globs}")
        if path not in current:
            original[path] = current[path] = read(path)
        current[path] = _apply_one(path, edit, current[path])
    changed = {path: content for path, content in current.items() if content != original[path]}
    for path, content in changed.items():
        before = original[path]
        if before is None:
            continue
        old_lines = _Text.of(before).lines
        try:
            if content is None and find_regions(old_lines):
                raise EditError(f"{path} has editable regions (autoresearch markers); it cannot be deleted")
            reason = region_violation(old_lines, _Text.of(content or "").lines)
        except RegionError as error:
            raise EditError(f"{path} has malformed autoresearch markers ({error}); fix the file") from None
        if reason:
            raise EditError(f"{path}: {reason}")
    return changed


def is_git_path(path: str) -> bool:
    """Whether any part of PATH is `.git*` (.git, .gitattributes, .gitmodules, ...), in any letter case."""
    return any(part.lower().startswith(".git") for part in path.split("/"))


def _apply_one(path: str, edit: FileEdit, content: str | None) -> str | None:
    if edit.kind == "whole":
        return edit.content
    if edit.kind == "delete":
        if content is None:
            raise EditError(f"the diff deletes {path}, which does not exist")
        return None
    if edit.kind == "diff" and edit.content is not None:
        if content is not None:
            raise EditError(
                f"the diff creates {path} (from /dev/null), but it already exists; "
                "diff against its current content instead"
            )
        return edit.content
    if edit.kind == "search_replace":
        return _search_replace(path, edit, content)
    if edit.kind == "diff":
        return _apply_hunks(path, edit, content)
    raise EditError(f"unknown edit kind {edit.kind!r} for {path}")


def _search_replace(path: str, edit: FileEdit, content: str | None) -> str:
    where = f"(SEARCH/REPLACE block at line {edit.line})"
    if not any(line.strip() for line in edit.search):
        if content is not None and content.strip():
            raise EditError(
                f"the SEARCH section is empty but {path} already exists {where}; quote the lines to replace in SEARCH"
            )
        return "\n".join(edit.replace) + "\n" if edit.replace else ""
    if content is None:
        raise EditError(f"{path} does not exist {where}; to create it, leave the SEARCH section empty")
    text = _Text.of(content)
    try:
        found = locate(text.lines, edit.search, edit.replace)
    except Ambiguous as error:
        numbers = ", ".join(str(start + 1) for start in error.starts[:10])
        raise EditError(
            f"the SEARCH text matches {len(error.starts)} places in {path} (lines {numbers}) "
            f"{where}; include more surrounding lines so it matches exactly one"
        ) from None
    except NotFound:
        raise EditError(
            f"the SEARCH text was not found in {path} {where}. The closest lines are:\n"
            f"{closest(text.lines, edit.search)}\n"
            "SEARCH must copy the current lines exactly, including indentation"
        ) from None
    text.lines[found.start : found.end] = found.replacement
    return text.render()


def _apply_hunks(path: str, edit: FileEdit, content: str | None) -> str:
    if content is None:
        raise EditError(f"the diff changes {path}, which does not exist; use `--- /dev/null` to create it")
    text = _Text.of(content)
    shift = 0  # how far earlier hunks moved the lines below them
    for hunk in edit.hunks:
        hint = None if hunk.old_start is None else max(0, hunk.old_start - 1 + shift)
        if not hunk.old:
            at = len(text.lines) if hint is None else min(hint + (hunk.old_start != 0), len(text.lines))
            text.lines[at:at] = hunk.new
        else:
            try:
                found = locate(text.lines, hunk.old, hunk.new, hint=hint, drift=DIFF_DRIFT)
            except Ambiguous as error:
                numbers = ", ".join(str(start + 1) for start in error.starts[:10])
                raise EditError(
                    f"the hunk at line {hunk.line} of the diff matches {len(error.starts)} "
                    f"places in {path} (lines {numbers}); add context lines"
                ) from None
            except NotFound:
                raise EditError(
                    f"the hunk at line {hunk.line} of the diff does not apply to {path}: its "
                    "context and removed lines were not found. The closest lines are:\n"
                    f"{closest(text.lines, hunk.old)}"
                ) from None
            text.lines[found.start : found.end] = found.replacement
            shift += len(found.replacement) - (found.end - found.start)
        if hunk.new_no_eol:
            text.trailing = False
    return text.render()


def apply_edits(root: Path, edits: list[FileEdit], *, editable: list[str], protected: list[str]) -> list[str]:
    """Apply all edits under `root` or none; returns the paths whose content changed, sorted."""
    root_resolved = root.resolve()

    def read(path: str) -> str | None:
        file = root / path
        if not file.resolve().is_relative_to(root_resolved):
            raise EditError(f"{path} resolves outside the repository (symlink); it cannot be edited")
        if file.is_dir():
            raise EditError(f"{path} is a directory, not a file")
        if not file.exists():
            return None
        try:
            return file.read_bytes().decode("utf-8")
        except UnicodeDecodeError:
            raise EditError(f"{path} is not UTF-8 text; it cannot be edited") from None

    plan = plan_edits(edits, read, editable=editable, protected=protected)
    write_files(root, plan)
    return sorted(plan)


def write_files(root: Path, contents: Mapping[str, str | bytes | None]) -> None:
    """Write (None: delete) files under root; on any failure restore those already written."""
    done: list[tuple[Path, bytes | None]] = []
    try:
        for path, content in contents.items():
            file = root / path
            previous = file.read_bytes() if file.exists() else None
            if content is None:
                if previous is not None:
                    file.unlink()
            else:
                _atomic_write(file, content.encode("utf-8") if isinstance(content, str) else content)
            done.append((file, previous))
    except BaseException:
        for file, previous in reversed(done):
            if previous is None:
                file.unlink(missing_ok=True)
            else:
                _atomic_write(file, previous)
        raise


def _atomic_write(file: Path, data: bytes) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    mode = file.stat().st_mode & 0o7777 if file.exists() else None
    handle, temp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        # Keep the executable bit of scripts; new files get the usual umask-derived mode.
        os.chmod(temp, mode if mode is not None else 0o666 & ~_UMASK)
        os.replace(temp, file)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _read_umask() -> int:
    # Read once at import: os.umask can only be read by setting it, which races with other threads.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def unified_diff(old_files: Mapping[str, str], new_files: Mapping[str, str]) -> str:
    """A git-style unified diff from {path: content} before to after (missing: created/deleted)."""
    out: list[str] = []
    for path in sorted(set(old_files) | set(new_files)):
        before, after = old_files.get(path), new_files.get(path)
        if before == after:
            continue
        lines = difflib.unified_diff(
            (before or "").splitlines(keepends=True),
            (after or "").splitlines(keepends=True),
            fromfile=f"a/{path}" if before is not None else "/dev/null",
            tofile=f"b/{path}" if after is not None else "/dev/null",
        )
        for line in lines:
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)
