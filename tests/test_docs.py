"""The READMEs say what users get: the quickstart's commands and figures hold on a real run
(benchmarks/docs.py, run once here), and every README's commands exist as written."""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest

from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from autoresearch.ui.cli import main as cli_main

REPO = Path(__file__).resolve().parent.parent
READMES = [REPO / "README.md", *sorted((REPO / "examples").glob("*/README.md"))]
# The module's fixture runs the whole quickstart README (a 30-experiment study, its report, apply...):
# minutes on a loaded 2-core machine, counted against the first test that asks for it.
pytestmark = pytest.mark.timeout(900)


def load_docs_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmarks_docs", REPO / "benchmarks" / "docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


docs = load_docs_script()
QUICKSTART = (REPO / "examples" / "quickstart" / "README.md").read_text()


class QuickstartRun(NamedTuple):
    ran: dict[str, Any]  # each documented command's result (docs.Ran)
    objectives: dict[int, float]  # each experiment's, from the study's store
    root: Path  # the repository-like folder it ran in


@pytest.fixture(scope="module")
def quickstart_run(tmp_path_factory: pytest.TempPathFactory) -> QuickstartRun:
    """One real run of everything the quickstart README documents, as written, in a copy laid out
    like the repository."""
    root = tmp_path_factory.mktemp("quickstart-docs")
    ran = docs.run_readme(QUICKSTART, root)
    return QuickstartRun(ran, docs.study_objectives(root), root)


# -- the quickstart, for real --------------------------------------------------------------------------


def test_every_documented_command_runs_as_written(quickstart_run: QuickstartRun) -> None:
    ran = quickstart_run.ran
    assert docs.failures(ran) == []
    subcommands = {shlex.split(c)[1] for c in ran if c.startswith(".venv/bin/autoresearch ")}
    assert subcommands >= {"run", "status", "log", "show", "best", "report", "export", "apply"}, subcommands
    assert any("train.py" in c and "--report-test" in c for c in ran)  # the test split, after `apply`
    assert not any("pip" in c or "venv" in shlex.split(c)[:3] for c in ran)  # the install is CI's


def test_transcripts_are_what_a_real_run_prints(quickstart_run: QuickstartRun) -> None:
    ran = quickstart_run.ran
    blocks = docs.transcript_blocks(QUICKSTART)
    assert {b.command.split()[1] for b in blocks if "autoresearch" in b.command} >= {"run", "status", "best", "report"}
    assert docs.differences(QUICKSTART, ran) == []
    assert docs.rewritten(QUICKSTART, ran) == QUICKSTART  # a rewrite from this run changes nothing


def test_quoted_figures_hold(quickstart_run: QuickstartRun) -> None:
    ran, objectives, root = quickstart_run
    assert docs.figure_errors(QUICKSTART, objectives) == []
    assert docs.quoted_figures(QUICKSTART) >= 6
    # The deterministic figures the README's prose quotes, from the study's store.
    assert f"{objectives[2]:.6g}" == "0.914439" and "#2 0.914439" in QUICKSTART
    best_id = min(objectives, key=objectives.__getitem__)
    assert (best_id, f"{objectives[best_id]:.6g}") == (27, "0.051934") and "#27 0.051934" in QUICKSTART
    # The best parameters: what `best` printed now, what the README shows, what `apply` wrote.
    best_block = next(b for b in docs.transcript_blocks(QUICKSTART) if b.command.split()[1:2] == ["best"])
    shown = json.loads(best_block.text[best_block.text.index("{") :])
    printed = ran[best_block.command].output
    assert same_params(json.loads(printed[printed.index("{") :]), shown)
    assert same_params(json.loads((root / "examples" / "quickstart" / "best_params.json").read_text()), shown)
    store = Store(load_spec(root / "examples" / "quickstart").study_dir, create=False)
    try:
        assert same_params(store.get(27).params, shown)
        experiments = store.experiments()
    finally:
        store.close()
    assert len(experiments) == 30 and experiments[0].decision == "baseline"
    assert all(e.decision in ("baseline", "kept", "reverted") for e in experiments)
    assert all("val_accuracy" in e.metrics for e in experiments)
    # The held-back test split is never reported during the search: only `--report-test`, after it.
    assert not any(name.startswith("test_") for e in experiments for name in e.metrics)
    assert (root / "examples" / "quickstart" / ".autoresearch" / "digits-mlp" / "report" / "report.html").is_file()


def same_params(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Equal parameters, floats to 12 significant digits: a sampled value's last digits differ between CPUs."""
    if a.keys() != b.keys():
        return False
    return all(
        math.isclose(a[k], b[k], rel_tol=1e-12) if isinstance(a[k], float) and isinstance(b[k], float) else a[k] == b[k]
        for k in a
    )


def test_a_drifted_readme_is_named(quickstart_run: QuickstartRun) -> None:
    ran, objectives, _ = quickstart_run
    figure = QUICKSTART.replace("#2 0.914439", "#2 0.914438", 1)
    assert [e for e in docs.figure_errors(figure, objectives) if "`#2 0.914438` but experiment #2 has 0.914439" in e]
    status = ".venv/bin/autoresearch status examples/quickstart"
    drifted = QUICKSTART.replace("kept 6; the strict rule", "kept 7; the strict rule", 1)
    (difference,) = docs.differences(drifted, ran)
    assert difference.startswith(f"transcript `{status}` (line ") and "+kept 6; the strict rule" in difference
    repaired = docs.rewritten(drifted, ran)
    assert "kept 6; the strict rule" in repaired and docs.differences(repaired, ran) == []
    # Durations and rates are not differences: they change with the machine's load.
    slower = re.sub(r"throughput [0-9.]+/h   elapsed \d+m\d\ds", "throughput 1.0/h   elapsed 99m59s", QUICKSTART)
    assert slower != QUICKSTART and docs.differences(slower, ran) == []


# -- every README, without running it -----------------------------------------------------------------


def shell_commands(readme: Path) -> Iterator[tuple[str, list[str]]]:
    """Each command of README's ```sh blocks (each `&&` part), as words, environment assignments dropped."""
    for line in docs.fenced_shell_lines(readme.read_text()):
        for part in line.split("&&"):
            words = shlex.split(part)
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                words = words[1:]
            if words:
                yield part.strip(), words


def command_problems(readme: Path, repo: Path = REPO) -> list[str]:
    """What in README's commands would not run after its install, in the repository REPO."""
    problems = []
    name = readme.relative_to(repo)
    for text, words in shell_commands(readme):
        program = words[0]
        if program in ("autoresearch", "python", "pip"):
            problems.append(
                f"{name}: `{text}`: `{program}` is not on PATH after the README's install; write .venv/bin/{program}"
            )
            continue
        script = words[1] if program == ".venv/bin/python" and len(words) > 1 else "-"
        if not script.startswith("-") and not (repo / script).is_file():
            problems.append(f"{name}: `{text}`: {script} does not exist")
        if program != ".venv/bin/autoresearch":
            continue
        command = cli_main.commands.get(words[1]) if len(words) > 1 else None
        if command is None:
            problems.append(f"{name}: `{text}`: no such subcommand; valid: {', '.join(sorted(cli_main.commands))}")
            continue
        options = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)} | {"-h", "--help"}
        for word in words[2:]:
            if word.startswith("-") and word.split("=")[0] not in options:
                problems.append(f"{name}: `{text}`: {words[1]} has no option {word}; it has {sorted(options)}")
            elif word.startswith("examples/") and not (repo / word).exists():
                problems.append(f"{name}: `{text}`: {word} does not exist")
    return problems


def test_readme_commands_exist_as_written() -> None:
    assert len(READMES) >= 9
    problems = [p for readme in READMES for p in command_problems(readme)]
    assert problems == []
    # Each README's commands were found (a parser that finds nothing checks nothing).
    quickstart = [w for _, w in shell_commands(REPO / "examples" / "quickstart" / "README.md")]
    assert [".venv/bin/autoresearch", "show", "27", "examples/quickstart"] in quickstart


def test_the_command_check_catches_drift(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "```sh\n"
        "autoresearch run examples/quickstart\n"
        ".venv/bin/autoresearch shwo 3 examples/quickstart   # a typo\n"
        "FOO=1 .venv/bin/autoresearch run --worker 2 examples/quickstart\n"
        ".venv/bin/autoresearch best examples/no-such-example\n"
        ".venv/bin/autoresearch report -o out examples/quickstart  # fine\n"
        "```\n"
    )
    (tmp_path / "examples" / "quickstart").mkdir(parents=True)
    problems = [p.split(": ", 1)[1] for p in command_problems(readme, repo=tmp_path)]
    assert problems == [
        "`autoresearch run examples/quickstart`: `autoresearch` is not on PATH after the README's install; "
        "write .venv/bin/autoresearch",
        problems[1],
        problems[2],
        "`.venv/bin/autoresearch best examples/no-such-example`: examples/no-such-example does not exist",
    ]
    assert "no such subcommand" in problems[1] and "shwo" in problems[1]
    assert "run has no option --worker" in problems[2]


def test_readme_links_exist() -> None:
    missing = []
    for readme in READMES:
        for target in re.findall(r"\]\(([^)\s]+)\)", readme.read_text()):
            if "://" in target or target.startswith("#"):
                continue
            if not (readme.parent / target.split("#")[0]).exists():
                missing.append(f"{readme.relative_to(REPO)}: link to {target}, which does not exist")
    assert missing == []
