"""Prompt pieces for LLM proposers: templates, the search space, history and files, all size-bounded.

Templates are `autoresearch/propose/prompts/<name>.md` (system, params, code, repair, lessons) with
`$placeholders` (string.Template). A study overrides any of them by putting a file of the same name in
`<study root>/prompts/`. Holdout values never appear here: experiments are formatted from their
objective, metrics (minus holdout-named ones), decision, reason, params, diff and rationale only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from autoresearch.core.experiment import FAILURES, Decision
from autoresearch.execute import feedback

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.core.proposal import Proposal
    from autoresearch.spec import Spec
    from autoresearch.store.history import History


def load_template(name: str, root: Path | None) -> str:
    """The study's `prompts/<name>.md` if there is one, else the packaged default."""
    if root is not None:
        override = Path(root) / "prompts" / f"{name}.md"
        if override.is_file():
            return override.read_text()
    return resources.files("autoresearch.propose").joinpath("prompts", f"{name}.md").read_text()


def render(template: str, **values: str) -> str:
    # safe_substitute: a user's override with an unknown $word stays as written instead of failing.
    return Template(template).safe_substitute(values).strip() + "\n"


def clip(text: str, limit: int) -> str:
    """At most `limit` characters, keeping the start and the end (errors put the cause last)."""
    if len(text) <= limit:
        return text
    keep = max(limit - 20, 10)
    return text[: keep // 2] + " [...truncated...] " + text[-(keep - keep // 2) :]


def clip_tail(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def fmt_number(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def fmt_params(params: dict[str, Any] | None) -> str:
    if not params:
        return "{}"
    return "{" + ", ".join(f"{json.dumps(k)}: {_json_value(v)}" for k, v in params.items()) + "}"


def _json_value(value: Any) -> str:
    return fmt_number(value) if isinstance(value, float) else json.dumps(value)


def describe_space(spec: Spec) -> str:
    lines = []
    for name, p in spec.params.items():
        if p.type == "categorical":
            lines.append(f"- `{name}`: one of {json.dumps(p.choices)}")
        else:
            kind = "integer" if p.type == "int" else "float"
            extras = ["log scale"] if p.log else []
            if p.step:
                extras.append(f"step {fmt_number(p.step)}")
            tail = f" ({', '.join(extras)})" if extras else ""
            lines.append(f"- `{name}`: {kind} in [{fmt_number(p.low)}, {fmt_number(p.high)}]{tail}")
    return "\n".join(lines)


@dataclass(frozen=True)
class HistoryLimits:
    best: int = 5
    recent: int = 10
    failures: int = 5
    item_chars: int = 400
    reason_chars: int = 200
    run_failures: int = 2  # recent failures whose feedback and log tail are shown
    tail_chars: int = 1500  # log tail of the parent (a failure's gets half)
    feedback_chars: int = 1200  # feedback of the parent (a failure's gets half)

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> HistoryLimits:
        return cls(
            best=int(options.get("history_best", 5)),
            recent=int(options.get("history_recent", 10)),
            failures=int(options.get("history_failures", 5)),
            item_chars=int(options.get("item_chars", 400)),
            run_failures=int(options.get("run_failures", 2)),
            tail_chars=int(options.get("tail_chars", 1500)),
            feedback_chars=int(options.get("feedback_chars", 1200)),
        )

    def halved(self) -> HistoryLimits:
        return HistoryLimits(
            self.best // 2,
            self.recent // 2,
            self.failures // 2,
            max(self.item_chars // 2, 80),
            max(self.reason_chars // 2, 60),
            self.run_failures // 2,
            self.tail_chars // 2,
            self.feedback_chars // 2,
        )


def objective_text(spec: Spec) -> str:
    """What the study optimises, for a prompt's `$objective`: one objective and its direction, or several
    and what keeping means for them."""
    if not spec.metric.objectives:
        return f"The objective is `{spec.metric.objective or spec.metric.name}`: **{spec.study.direction}** it."
    listed = ", ".join(f"`{name}` (**{direction}**)" for name, direction in spec.metric.objectives.items())
    return (
        f"There are several objectives, traded off on a Pareto front: {listed}. A candidate is kept when no "
        "member of the front is at least as good on every objective (and better on one); it then joins the "
        "front and pushes off the members it beats on every objective. Aim for a point better than a member "
        "on some objective without being worse on the others, or for a new trade-off."
    )


def format_experiment(exp: Experiment, mode: str, limits: HistoryLimits) -> str:
    parts = [f"#{exp.id} {exp.decision or exp.status}"]
    if exp.objectives:  # several objectives: each one's value
        parts.append(" ".join(f"{k}={fmt_number(v)}" for k, v in exp.objectives.items()))
    elif exp.objective is not None:
        parts.append(f"objective={fmt_number(exp.objective)}")
    others = {k: v for k, v in (exp.metrics or {}).items() if "holdout" not in k.lower()}
    if others:
        shown = list(others.items())[:4]
        parts.append("metrics: " + ", ".join(f"{k}={fmt_number(v)}" for k, v in shown))
    if exp.strategy:
        parts.append(f"[{exp.strategy}]")
    if mode == "params":
        parts.append(f"params={fmt_params(exp.params or exp.proposal.get('params'))}")
    if exp.rationale:
        parts.append(f"- {' '.join(exp.rationale.split())}")
    line = clip(" ".join(parts), limits.item_chars)
    if mode == "code" and exp.diff:
        line += "\n" + _indent(clip(exp.diff.strip(), limits.item_chars))
    if (exp.decision in FAILURES or exp.decision == Decision.PRUNED) and exp.reason:  # pruned: at which step, why
        line += f"\n  why: {clip_tail(' '.join(exp.reason.split()), limits.reason_chars)}"
    said = (exp.extra or {}).get("feedback")
    if said:
        lines = [t for t in str(said).splitlines() if not (t.startswith("[") and t.endswith("]"))]  # source heads
        line += f"\n  feedback: {clip(' | '.join(lines), limits.reason_chars)}"
    return line


TASKS = {
    "improve": "Improve this version: one change that should make the objective better.",
    "draft": "Draft a new solution from this starting point, different from the other drafts in the history.",
    "debug": "This version failed. Fix what made it fail (its error output is below) and keep its idea.",
}


def format_parent(
    parent: Experiment | None, lineage: list[Experiment], task: str, note: str, mode: str, limits: HistoryLimits
) -> str:
    """The experiment this candidate builds on, its lineage (oldest first) and the search policy's task."""
    if parent is None:
        head = "The unchanged system (the baseline has not been measured yet)."
    else:
        head = f"#{parent.id} ({parent.decision}, objective {fmt_number(parent.objective)})"
        if mode == "params":
            head += f" with params {fmt_params(parent.params or parent.proposal.get('params'))}"
        head += "."
    lines = [head]
    if len(lineage) > 1:
        steps = [f"#{e.id} {e.decision} {fmt_number(e.objective)}" for e in lineage]
        lines.append("Its lineage (oldest first): " + " -> ".join(steps))
    lines.append(f"Task: **{task}**. {TASKS.get(task, '')}".rstrip())
    if note.strip():
        lines.append("```\n" + clip_tail(note, limits.tail_chars) + "\n```")
    return "\n".join(lines)


def format_runs(history: History, parent: Experiment | None, anchor: Path, limits: HistoryLimits) -> str:
    """What the parent's run and the most recent failures reported: feedback, metric curves, log tails.

    Reads at most 1 + limits.run_failures experiments (and their two logs' tails), never the study.
    """
    redactor = feedback.Redactor(history.holdout_metric)
    blocks = []
    if parent is not None:
        body = _run_materials(parent, anchor, limits.feedback_chars, limits.tail_chars, redactor)
        profile = redactor.lines(str((parent.extra or {}).get("profile") or "")).strip()
        if profile:
            body.append("Where the time goes (its profile, top entries):\n```\n" + profile + "\n```")
        if body:
            blocks.append(f"## The version you are changing (#{parent.id}, {parent.decision})\n" + "\n".join(body))
    failures = history.failures()[-limits.run_failures :] if limits.run_failures > 0 else []
    for exp in reversed(failures):
        if parent is not None and exp.id == parent.id:
            continue
        body = _run_materials(exp, anchor, limits.feedback_chars // 2, limits.tail_chars // 2, redactor)
        if body:
            why = clip_tail(" ".join((exp.reason or "").split()), limits.reason_chars)
            blocks.append(f"## Recent {exp.decision} experiment #{exp.id}: {why}\n" + "\n".join(body))
    return "\n\n".join(blocks) if blocks else "Nothing reported yet."


def _run_materials(
    exp: Experiment, anchor: Path, feedback_chars: int, tail_chars: int, redactor: feedback.Redactor
) -> list[str]:
    extra = exp.extra or {}
    body = []
    said = redactor.lines(str(extra.get("feedback") or "")).strip()
    if said:
        body.append("Feedback from the run:\n```\n" + clip(said, feedback_chars) + "\n```")
    curves = [
        feedback.summarise_curve(name, curve)
        for name, curve in (extra.get("series") or {}).items()
        if redactor.allows(name)
    ]
    if curves:
        body.append("Metric curves (values printed during the run):\n" + "\n".join(f"- {c}" for c in curves))
    if exp.log_dir and tail_chars > 0:
        tail = feedback.log_tail(Path(exp.log_dir), anchor, tail_chars, redactor)
        if tail:
            body.append("End of its logs:\n```\n" + tail + "\n```")
    return body


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def format_history(history: History, mode: str, limits: HistoryLimits) -> str:
    """Best k, then most recent n, then recent failures; each experiment (and each params set) once.

    Reads only the items it shows, from the history's ranking and failure lists, never all of it.
    """
    if not history:
        return "No experiments yet."
    ranked, failures = history.ranked(), history.failures()
    shown: set[int] = set()
    seen_params: set[str] = set()
    sections = []
    best: tuple[str, Sequence[Experiment]] = (f"Best so far (top {limits.best})", ranked[: limits.best])
    if history.front is not None:  # several objectives: no single best, the front instead
        members = history.front.members
        more = f"; the {2 * limits.best} most recent shown" if len(members) > 2 * limits.best else ""
        best = (
            f"The Pareto front ({len(members)} members, none dominated by another{more})",
            members[-2 * limits.best :],
        )
    for title, items in (
        best,
        (f"Most recent (last {limits.recent})", history[-limits.recent :] if limits.recent else []),
        (f"Recent failures (last {limits.failures})", failures[-limits.failures :] if limits.failures else []),
    ):
        lines = []
        for exp in items:
            key = None
            if mode == "params" and exp.params:
                key = json.dumps(exp.params, sort_keys=True, default=str)
            if exp.id in shown or (key is not None and key in seen_params and exp.decision != Decision.FAILED):
                continue
            shown.add(exp.id)
            if key is not None:
                seen_params.add(key)
            lines.append(format_experiment(exp, mode, limits))
        if lines:
            sections.append(f"## {title}\n" + "\n".join(lines))
    counts = history.counts
    summary = f"{len(history)} experiments: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    return summary + "\n\n" + "\n\n".join(sections)


def format_pending(pending: list[Proposal], mode: str, item_chars: int, limit: int = 5) -> str:
    if not pending:
        return "None."
    lines = []
    for proposal in pending[-limit:]:
        body = fmt_params(proposal.params) if mode == "params" else (proposal.rationale or "(edits)")
        if mode == "params" and proposal.rationale:
            body += f" ({proposal.rationale})"
        head = f"#{proposal.experiment_id} " if proposal.experiment_id is not None else ""
        head += f"[{proposal.strategy}] " if proposal.strategy else ""
        lines.append("- " + clip(head + " ".join(body.split()), item_chars))
    if len(pending) > limit:
        lines.insert(0, f"({len(pending) - limit} more not shown)")
    return "\n".join(lines)


def format_files(files: dict[str, str], max_file_chars: int) -> str:
    blocks = []
    for path, content in files.items():
        note = ""
        if len(content) > max_file_chars:
            content = clip(content, max_file_chars)
            note = " (middle truncated for length: edit only the parts shown)"
        blocks.append(f"### {path}{note}\n```\n{content}\n```")
    return "\n\n".join(blocks) if blocks else "(no files)"
