"""The study as files for agents and scripts: `history.json` and `runs.md`.

`history_document` is what `autoresearch history --json` prints (every experiment, holdout values never
included). An `agent:` proposer gets a bounded version of it and the same "what the runs reported" text
an LLM prompt carries, as files in `.autoresearch/materials/` of its worktree: outside the editable set,
never part of a proposal (the agent's changes there are ignored), and removed by the next checkout.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autoresearch.core import safeio
from autoresearch.propose.prompt import HistoryLimits, format_runs
from autoresearch.propose.script import experiment_summary, front_summary

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.propose.base import Context
    from autoresearch.spec import Spec
    from autoresearch.store.history import History

MATERIALS_DIR = ".autoresearch/materials"  # relative to the spec's folder in the agent's worktree
AGENT_BEST = 20
AGENT_RECENT = 200
AGENT_FAILURES = 20


def history_document(spec: Spec, history: History, experiments: Iterable[Experiment] | None = None) -> dict[str, Any]:
    """The study for machines: spec facts, counts, the incumbent and EXPERIMENTS (default: all), oldest first."""
    best = history.tally.best
    chosen = list(history if experiments is None else experiments)
    return {
        "study": spec.name,
        "goal": spec.goal,
        "mode": spec.mode,
        "metric": spec.metric.objective or spec.metric.name,
        "direction": spec.study.direction,
        "count": len(history),
        "counts": dict(history.counts),
        "best": experiment_summary(best) if best else None,
        "experiments": [experiment_summary(e) for e in chosen],
        **front_summary(spec, history),
    }


def bounded_selection(history: History) -> list[Experiment]:
    """The best AGENT_BEST, the last AGENT_RECENT and the last AGENT_FAILURES experiments, each once, oldest
    first: read from the history's ranking and failure lists, never a pass over the study."""
    chosen = {e.id: e for e in history.ranked()[:AGENT_BEST]}
    chosen.update((e.id, e) for e in history[-AGENT_RECENT:])
    chosen.update((e.id, e) for e in history.failures()[-AGENT_FAILURES:])
    return [chosen[i] for i in sorted(chosen)]


def write_agent_materials(context: Context, root: Path, anchor: Path) -> Path:
    """history.json and runs.md in ROOT/MATERIALS_DIR (written without following links); returns the folder."""
    folder = root / MATERIALS_DIR
    document = history_document(context.spec, context.history, bounded_selection(context.history))
    document["note"] = (
        f"the {AGENT_BEST} best, last {AGENT_RECENT} and last {AGENT_FAILURES} failed experiments of "
        f"{len(context.history)}; holdout values are never included"
    )
    safeio.write_text(folder / "history.json", json.dumps(document, indent=1, default=str), anchor)
    runs = format_runs(context.history, context.parent, context.spec.study_dir, HistoryLimits())  # the worktree's
    safeio.write_text(folder / "runs.md", "# What the runs reported\n\n" + runs + "\n", anchor)
    return folder
