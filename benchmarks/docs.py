"""The quickstart README, run as written: its transcripts regenerated from a real run, or checked.

examples/quickstart/README.md marks each transcript it shows with the command that printed it:

    <!-- transcript: .venv/bin/autoresearch best examples/quickstart -->
    ```
    $ .venv/bin/autoresearch best examples/quickstart
    ...
    ```
    <!-- /transcript -->

`transcript(3...4):` keeps the first 3 and last 4 lines of a long output, with `...` between them.
This script copies the example's tracked files into a temporary folder laid out like the repository
(`examples/quickstart`, and `.venv` linked to the environment running this script), runs every command
the README documents there, in the README's order and exactly as written (the install, which needs
the network, excepted), then

    python benchmarks/docs.py           rewrites each transcript block from that run;
    python benchmarks/docs.py --check   exits 1 naming each block that differs, each command that
                                        failed, and each quoted figure (`#N 0.123456`) that no longer holds.

Durations, throughputs, training times and the temporary folder's path change from run to run; they
are masked when comparing, and a rewrite keeps this run's values. tests/test_docs.py runs the same
functions on one real run.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "examples" / "quickstart" / "README.md"
EXAMPLE = "examples/quickstart"
SHOWN_ROOT = "~/autoresearch"  # what the temporary folder's path is shown as: a checkout in your home
COMMAND_TIMEOUT = 600

_START = re.compile(r"^<!-- transcript(?:\((\d+)\.\.\.(\d+)\))?: (.+?) -->$")
_END = "<!-- /transcript -->"
_FENCE = re.compile(r"^```(\S*)\s*$")
# What changes from run to run on the same machine: elapsed times, rates, training times.
_VOLATILE: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    (re.compile(r"\b\d+m\d\ds\b"), "<duration>"),
    (re.compile(r"\b\d+(?:\.\d+)?/h\b"), "<rate>/h"),
    (re.compile(r"\b\d+(?:\.\d+)? experiments/h\b"), "<rate> experiments/h"),
    (re.compile(r"\bduration \d+(?:\.\d+)?s\b"), "duration <seconds>"),
    (re.compile(r"(\"?train_seconds\"?[:=] ?)\d+(?:\.\d+)?"), r"\1<seconds>"),
    # A sampled parameter printed to full precision differs in its last digits between CPUs (numpy's
    # vectorised exp/log): compared to 12 significant digits.
    (re.compile(r"\b\d+\.\d{13,}\b"), lambda m: f"{float(m.group()):.12g}"),
]
# A figure quoted in prose or a transcript, experiment N's objective as the tool prints it:
# `#N 0.123`, `#N kept 0.123` (a run's line) or `0.123 (#N)` (a best).
_NUMBER = r"\d+\.\d+(?:e-?\d+)?"
_FIGURES = [
    (re.compile(rf"#(?P<id>\d+)(?: (?:baseline|kept|reverted))? (?P<value>{_NUMBER})\b")),
    (re.compile(rf"\b(?P<value>{_NUMBER}) \(#(?P<id>\d+)\)")),
]


@dataclass
class Block:
    """One transcript block: the command in its marker, and the fenced text between the markers."""

    command: str
    head: int | None
    tail: int | None
    first_line: int  # index of the opening marker's line
    last_line: int  # index of the closing marker's line
    text: str  # the fenced block's content, without the fences


@dataclass
class Ran:
    command: str
    returncode: int
    output: str  # stdout and stderr as one terminal shows them, the temporary root shown as SHOWN_ROOT


class DocsError(Exception):
    """The README cannot be read as this script expects (a marker without its end, an unfenced block)."""


def transcript_blocks(readme: str) -> list[Block]:
    lines = readme.splitlines()
    found = []
    i = 0
    while i < len(lines):
        start = _START.match(lines[i].strip())
        if start is None:
            i += 1
            continue
        try:
            end = lines.index(_END, i + 1)
        except ValueError:
            raise DocsError(f"line {i + 1}: '{lines[i]}' has no '{_END}' after it") from None
        inner = lines[i + 1 : end]
        if len(inner) < 2 or not _FENCE.match(inner[0]) or inner[-1] != "```":
            raise DocsError(f"line {i + 1}: a transcript marker must be followed by one fenced block, then '{_END}'")
        head, tail = (int(start[1]), int(start[2])) if start[1] else (None, None)
        found.append(Block(start[3], head, tail, i, end, "\n".join(inner[1:-1])))
        i = end + 1
    return found


def fenced_shell_lines(readme: str) -> Iterator[str]:
    """Each command line of the README's ```sh blocks, without its trailing comment."""
    shell = False
    for line in readme.splitlines():
        fence = _FENCE.match(line)
        if fence is not None:
            shell = not shell and fence[1] in ("sh", "bash", "shell")
            continue
        if shell and line.strip() and not line.lstrip().startswith("#"):
            yield strip_comment(line)


def strip_comment(line: str) -> str:
    """LINE without a trailing `# comment` (a `#` that starts a word, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote is not None:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].strip()
    return line.strip()


def documented_commands(readme: str) -> list[str]:
    """Every command the README documents, in its order, once each: the ```sh lines (each `&&` part
    on its own, the install's steps left out) and the transcripts' commands."""
    ordered: list[str] = []
    shell = False
    blocks = {b.first_line: b for b in transcript_blocks(readme)}
    for number, line in enumerate(readme.splitlines()):
        if number in blocks:
            ordered.append(blocks[number].command)
        fence = _FENCE.match(line)
        if fence is not None:
            shell = not shell and fence[1] in ("sh", "bash", "shell")
            continue
        if shell and line.strip() and not line.lstrip().startswith("#"):
            ordered += [part.strip() for part in strip_comment(line).split("&&") if not is_install(part.strip())]
    return list(dict.fromkeys(ordered))  # each once, where it first appears


def is_install(command: str) -> bool:
    """The README's install steps: making the venv and pip (they need the network; CI does them)."""
    words = shlex.split(command)
    return words[:3] == ["python3", "-m", "venv"] or (
        len(words) > 1 and words[0].endswith("pip") and words[1] == "install"
    )


def prepare_root(root: Path) -> None:
    """ROOT laid out like the repository for the README's commands: the example's tracked files under
    examples/quickstart, and .venv pointing at the environment running this script."""
    venv = Path(sys.prefix)
    if not (venv / "bin" / "autoresearch").exists():
        raise DocsError(
            f"{venv}/bin/autoresearch is missing: run this with the project's environment, "
            "e.g. .venv/bin/python benchmarks/docs.py"
        )
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--", EXAMPLE], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    names = [name for name in listed.split("\0") if name]
    if not names:
        raise DocsError(f"{EXAMPLE} has no files tracked by git")
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / name, root / name)
    (root / ".venv").symlink_to(venv, target_is_directory=True)


def run_commands(root: Path, commands: Sequence[str]) -> dict[str, Ran]:
    """Run each command in ROOT through a shell, as a user would paste it; without a terminal."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "VIRTUAL_ENV", "PYTHONPATH")}
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleave as on a terminal
    ran = {}
    for command in commands:
        done = subprocess.run(
            command,
            shell=True,
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=COMMAND_TIMEOUT,
        )
        ran[command] = Ran(command, done.returncode, done.stdout.replace(str(root), SHOWN_ROOT))
    return ran


def run_readme(readme: str, root: Path) -> dict[str, Ran]:
    """Prepare ROOT and run every command README documents there."""
    prepare_root(root)
    return run_commands(root, documented_commands(readme))


def render(block: Block, ran: Ran) -> str:
    lines = ran.output.rstrip("\n").splitlines()
    if block.head is not None and block.tail is not None and len(lines) > block.head + block.tail:
        lines = [*lines[: block.head], "...", *lines[len(lines) - block.tail :]]
    return "\n".join([f"$ {block.command}", *lines])


def mask(text: str) -> str:
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def rewritten(readme: str, ran: dict[str, Ran]) -> str:
    """README with every transcript block replaced by this run's output where it differs from the run
    in more than its durations and rates (so that a rewrite only changes what changed)."""
    lines = readme.splitlines()
    for block in reversed(transcript_blocks(readme)):
        fresh = render(block, ran[block.command])
        if mask(fresh) != mask(block.text):
            fence = lines[block.first_line + 1]
            lines[block.first_line + 1 : block.last_line] = [fence, fresh, "```"]
    return "\n".join(lines) + ("\n" if readme.endswith("\n") else "")


def failures(ran: dict[str, Ran]) -> list[str]:
    return [
        f"`{r.command}` exited with {r.returncode}:\n{r.output[-2000:]}"
        for r in ran.values()
        if r.returncode != 0 or "Traceback" in r.output
    ]


def differences(readme: str, ran: dict[str, Ran]) -> list[str]:
    """One entry per transcript block whose text differs from this run's (volatile parts masked)."""
    found = []
    for block in transcript_blocks(readme):
        fresh = render(block, ran[block.command])
        if mask(block.text) != mask(fresh):
            diff = difflib.unified_diff(
                block.text.splitlines(), fresh.splitlines(), "README", "this run", lineterm="", n=1
            )
            found.append(f"transcript `{block.command}` (line {block.first_line + 1}) differs:\n" + "\n".join(diff))
    return found


def figure_errors(readme: str, objectives: dict[int, float]) -> list[str]:
    """Each `#N value` the README quotes (prose and transcripts) that is not experiment N's objective,
    as the tool prints it (6 significant digits)."""
    found = []
    for number, line in enumerate(readme.splitlines(), start=1):
        for match in (m for pattern in _FIGURES for m in pattern.finditer(line)):
            experiment, quoted = int(match["id"]), match["value"]
            actual = objectives.get(experiment)
            if actual is None:
                found.append(
                    f"line {number}: `{match[0]}` quotes experiment #{experiment}, which this run did not have"
                )
            elif f"{actual:.6g}" != f"{float(quoted):.6g}":
                found.append(f"line {number}: `{match[0]}` but experiment #{experiment} has {actual:.6g}")
    return found


def quoted_figures(readme: str) -> int:
    return sum(len(pattern.findall(line)) for pattern in _FIGURES for line in readme.splitlines())


def study_objectives(root: Path) -> dict[int, float]:
    from autoresearch.spec import load_spec
    from autoresearch.store.database import Store

    store = Store(load_spec(root / EXAMPLE).study_dir, create=False)
    try:
        return {e.id: e.objective for e in store.experiments() if e.objective is not None}
    finally:
        store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare instead of rewriting; exit 1 on a difference")
    parser.add_argument("--readme", type=Path, default=README, help="default: examples/quickstart/README.md")
    args = parser.parse_args(argv)
    readme = args.readme.read_text()
    with tempfile.TemporaryDirectory(prefix="docs-") as tmp:
        try:
            ran = run_readme(readme, Path(tmp))
        except DocsError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        objectives = study_objectives(Path(tmp))
    problems = failures(ran)
    print(f"ran {len(ran)} documented commands; {len(transcript_blocks(readme))} transcripts")
    if args.check:
        problems += differences(readme, ran) + figure_errors(readme, objectives)
        print(f"checked {quoted_figures(readme)} quoted figures")
    else:
        updated = rewritten(readme, ran)
        problems += figure_errors(updated, objectives)
        if updated != readme:
            args.readme.write_text(updated)
            print(f"rewrote {args.readme}")
    for problem in problems:
        print(f"\n{problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
