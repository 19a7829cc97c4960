"""What the terminal shows: the live view while `run` works, and `status`, `log`, `show`."""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from autoresearch.core.direction import improvement
from autoresearch.core.experiment import FAILURES, Decision, Experiment
from autoresearch.engine.judge import holdout_budget_text
from autoresearch.engine.paired import Confirmation
from autoresearch.engine.study import Study
from autoresearch.execute.feedback import summarise_curve
from autoresearch.execute.process import read_tail
from autoresearch.execute.sandbox import recorded_warnings
from autoresearch.spec import Spec
from autoresearch.store.database import LOCK_NAME, Store
from autoresearch.store.history import FrontFigures, Tally

if TYPE_CHECKING:
    from autoresearch.engine.loop import Loop, Outcome

_STYLE: dict[str, str] = {
    Decision.BASELINE: "cyan",
    Decision.KEPT: "bold green",
    Decision.REVERTED: "yellow",
    Decision.FAILED: "red",
    Decision.REJECTED: "magenta",
    Decision.PRUNED: "blue",
}


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.6g}"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def one_line(text: str | None, width: int = 60) -> str:
    """TEXT on one line of at most WIDTH characters, cut between words where one is near."""
    line = " ".join((text or "").split())
    if len(line) <= width:
        return line
    cut = line[: width - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > width // 2 else cut).rstrip(" ,;:|") + "…"


def packed(fields: list[str], width: int, gap: str = "   ") -> list[str]:
    """FIELDS joined by GAP into lines of at most WIDTH characters, never splitting a field (a label
    stays with its value), so a narrow terminal wraps between figures rather than cutting them."""
    lines: list[str] = []
    for field in fields:
        if lines and len(lines[-1]) + len(gap) + len(field) <= width:
            lines[-1] += gap + field
        else:
            lines.append(field)
    return lines


def log_line(e: Experiment) -> str:
    decision = e.decision or "running"
    style = _STYLE.get(decision, "dim")
    return (
        f"#{e.id:<4} [{style}]{decision:<9}[/] {_values(e):>12}  {(e.strategy or '-'):<14} "
        f"{one_line(e.rationale or e.reason, 70)}"
    )


class _Stats:
    """Figures shared by the live view and `status`, from a running tally: O(1) in the study's size."""

    def __init__(self, spec: Spec, tally: Tally, elapsed: float, front: FrontFigures | None = None) -> None:
        direction = spec.study.direction
        self.spec = spec
        self.front = front  # several objectives: the Pareto front stands where one best would
        self.baseline = tally.baseline
        self.best = tally.best
        self.total = tally.total
        self.done = tally.done
        # What the experiment budget counts: a failed baseline is retried and uses none of it.
        self.used = tally.total - tally.failed_baselines
        self.used_done = tally.done - tally.failed_baselines
        self.counts = dict(tally.counts)
        candidates = self.done - self.counts.get(Decision.BASELINE, 0)
        self.keep_rate = self.counts.get(Decision.KEPT, 0) / candidates if candidates else 0.0
        self.per_hour = self.done / elapsed * 3600 if elapsed > 0 else 0.0
        self.cost = tally.cost
        self.elapsed = elapsed
        self.delta = (
            improvement(self.best.objective, self.baseline.objective, direction)
            if self.best and self.baseline and self.best.objective is not None and self.baseline.objective is not None
            else None
        )
        budget = spec.budget
        left = []
        if budget.experiments:
            left.append(max(budget.experiments - self.used, 0) / self.per_hour * 3600 if self.per_hour else None)
        if budget.hours:
            left.append(max(budget.hours * 3600 - elapsed, 0.0))
        known = [x for x in left if x is not None]
        self.remaining = min(known) if known else None
        self.since_improvement = tally.since_improvement

    def best_text(self) -> str:
        if self.spec.metric.objectives:
            return front_text(self.front)
        if self.best is None:
            return "best —"
        delta = ""
        if self.delta is not None and self.baseline and self.baseline.objective:
            delta = f" ({self.delta:+.4g} vs baseline, {100 * self.delta / abs(self.baseline.objective):+.1f}%)"
        return f"best {_fmt(self.best.objective)} (#{self.best.id}){delta}"


def _values(e: Experiment) -> str:
    """Its objective, or each of several objectives' values (`3.2 / 0.91`)."""
    if e.objectives:
        return " / ".join(_fmt(v) for v in e.objectives.values())
    return _fmt(e.objective)


def _shown(e: Experiment) -> str:
    """`show`'s objective: the value, or each of several objectives' by name."""
    if e.objectives:
        return ", ".join(f"{name} {_fmt(v)}" for name, v in e.objectives.items())
    return _fmt(e.objective)


def front_text(front: FrontFigures | None) -> str:
    """`front 3 members, hypervolume 1.25`: a study with several objectives in a few words."""
    if front is None or not front.members:
        return "front —"
    return f"front {len(front.members)} member{'s' * (len(front.members) > 1)}, hypervolume {front.hypervolume:.4g}"


def front_lines(spec: Spec, front: FrontFigures | None) -> list[str]:
    """`status`'s lines on the Pareto front: the reference point, and each member's values."""
    if front is None or not spec.metric.objectives:
        return []
    names = list(spec.metric.objectives)
    reference = ", ".join(f"{n} {_fmt(v)}" for n, v in zip(names, front.reference, strict=True))
    lines = [f"hypervolume reference: {reference} (a tenth of each range beyond the worst value measured)"]
    for member in front.members:
        point = member.point(names)
        values = ", ".join(f"{n} {_fmt(v)}" for n, v in zip(names, point or (), strict=True))
        lines.append(f"  #{member.id} {member.decision}: {values}")
    return lines


def run_alive(study_dir: Path) -> bool:
    """Whether a `run` holds the study's lock now (flock: the kernel drops it when its holder dies)."""
    try:
        fd = os.open(Path(study_dir) / LOCK_NAME, os.O_RDONLY)
    except OSError:
        return False  # no lock file: no run ever started here
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # shared: never blocks a reader, only tests for `run`
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock, if taken
    return False


def status_text(spec: Spec, store: Store) -> str:
    elapsed = float(store.get_meta("elapsed_seconds", "0") or 0)
    front = Study(spec, store).front()  # several objectives only: a pass over the rows to rebuild the front
    s = _Stats(spec, Tally.of_store(store), elapsed, front)  # aggregate queries: no pass over every row
    counts = dict(s.counts)
    if "running" in counts and not run_alive(spec.study_dir):
        # Their `run` is gone (kill -9, a crash): nothing runs them; the next `run` starts them again.
        counts["interrupted (the next run re-runs them)"] = counts.pop("running")
    shown = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    budget = f" / {spec.budget.experiments}" if spec.budget.experiments else ""
    retried = s.total - s.used
    retried_note = f" (+{retried} failed baseline{'s' * (retried > 1)}: retried, no budget used)" if retried else ""
    measured = f"{spec.study.direction} {spec.metric.name}"
    if spec.metric.objectives:
        measured = "objectives " + ", ".join(f"{d} {n}" for n, d in spec.metric.objectives.items())
    baseline = _fmt(s.baseline.objective) if s.baseline else "—"
    if spec.metric.objectives and s.baseline is not None and s.baseline.objectives:
        baseline = ", ".join(f"{n} {_fmt(v)}" for n, v in s.baseline.objectives.items())
    lines = [
        f"study {spec.name} ({spec.mode} mode, {measured})",
        f"experiments {s.used}{budget}: {shown or 'none yet'}{retried_note}",
        s.best_text(),
        *front_lines(spec, front),
        f"baseline {baseline}",
        f"keep rate {100 * s.keep_rate:.0f}%   throughput {s.per_hour:.1f}/h   elapsed {_duration(elapsed)}"
        + (f"   time left ~{_duration(s.remaining)}" if s.remaining is not None else ""),
    ]
    if s.cost or spec.budget.usd:  # only a study whose proposer is a paid LLM has a cost to show
        lines.append(f"LLM cost ${s.cost:.4f}" + (f" of ${spec.budget.usd:g}" if spec.budget.usd else ""))
    search = _search_line(store)
    if search:
        lines.append(search)
    confirmation = Confirmation.from_store(store)
    if confirmation is not None:
        lines.append(confirmation.text())
    recorded, strict = store.strict_keep_counts()
    if recorded:
        lines.append(f"kept {s.counts.get(Decision.KEPT, 0)}; the strict rule would have kept {strict}")
    at_stage = store.stage_rejections()
    if at_stage:
        order = [stage.name for stage in spec.stage]
        parts = sorted(at_stage.items(), key=lambda item: order.index(item[0]) if item[0] in order else len(order))
        lines.append(f"rejected at a stage: {sum(at_stage.values())} ({', '.join(f'{name} {n}' for name, n in parts)})")
    flagged = store.count_flagged()
    if flagged:
        lines.append(f"flagged {flagged} (see `autoresearch show ID`)")
    lines += proposer_lines(store, s.total)
    if spec.holdout is not None:
        lines.append(holdout_budget_text(spec.holdout.budget, store.count_holdout_decisions()))
    lines += [f"warning: {warning}" for warning in recorded_warnings(store)]
    return "\n".join(lines)


def proposer_lines(store: Store, total: int) -> list[str]:
    """Experiments that were no candidate of the proposer's, and whether they used the budget."""
    lines = []
    unusable = store.count_marked("unusable_answer")
    if unusable:
        lines.append(
            f"{unusable} of {total} experiments were unusable LLM answers (rejected after the repair turns), "
            "counted in the budget"
        )
    failed = store.count_marked("proposer_failed")
    if failed:
        lines.append(f"{failed} proposer failures (no proposal: see `autoresearch log`), not counted in the budget")
    return lines


def _search_line(store: Store, shown: int = 8) -> str:
    """The search policy and the best of each lineage it names (a tree's drafts, islands), or ''."""
    policy = store.get_meta("search_policy") or "greedy"
    heads: dict[str, int] = json.loads(store.get_meta("search_heads") or "{}")
    if policy == "greedy" and not heads:
        return ""
    parts = []
    for name, experiment_id in list(heads.items())[:shown]:
        try:
            parts.append(f"{name} #{experiment_id} {_fmt(store.get(experiment_id).objective)}")
        except KeyError:
            continue
    more = f" and {len(heads) - shown} more" if len(heads) > shown else ""
    return f"search {policy}" + (f"; best per lineage: {', '.join(parts)}{more}" if parts else "")


def show_text(e: Experiment) -> str:
    lines = [
        f"experiment {e.id}  parent {e.parent_id if e.parent_id is not None else '—'}  proposer {e.proposer}"
        f"  strategy {e.strategy or '—'}",
        f"decision   {e.decision or 'running'}: {e.reason or ''}",
        f"objective  {_shown(e)}   {_ended(e)}   duration {e.duration:.2f}s"
        if e.duration is not None
        else f"objective  {_shown(e)}",
        f"rationale  {e.rationale or ''}",
    ]
    search = (e.extra or {}).get("search")
    if isinstance(search, dict) and "incumbent" in search:  # judged against it: did it become the global best?
        search = {**search, "best": e.became_best}
    if isinstance(search, dict) and search:
        lines.append("search     " + json.dumps(search, sort_keys=True))  # the policy's task, incumbent, tags
    if e.metrics:
        lines.append("metrics    " + json.dumps(e.metrics, sort_keys=True))
    extra = e.extra or {}
    if "repeats" in extra:
        lines.append(
            f"repeats    {json.dumps(extra['repeats'])} (seeds {extra.get('seeds')}, std {_fmt(extra.get('std'))})"
        )
    if isinstance(extra.get("stages"), dict):  # [[stage]] values, then the full run's
        shown_stages = ", ".join(f"{name} = {_fmt(value)}" for name, value in extra["stages"].items())
        lines.append(
            f"stages     {shown_stages or '(no values)'}"
            + (f"; rejected at {extra['stage_rejected']}" if extra.get("stage_rejected") else "")
        )
    for flag in extra.get("flags", []):
        lines.append(f"FLAG       {flag}")
    if "recheck" in extra:
        lines.append("recheck    " + json.dumps(extra["recheck"]))
    if "paired" in extra:
        lines.append("paired     " + json.dumps(extra["paired"]))
    for name, curve in (extra.get("series") or {}).items():
        lines.append("curve      " + summarise_curve(name, curve))
    if extra.get("feedback"):
        lines += ["feedback   " + str(extra["feedback"]).replace("\n", "\n           ")]
    if e.holdout:
        lines.append("holdout    " + json.dumps(e.holdout, sort_keys=True))
    if e.params is not None:
        lines.append("params     " + json.dumps(e.params, sort_keys=True))
    if e.commit_sha:
        lines.append(f"commit     {e.commit_sha}")
    if e.cost_usd is not None or e.tokens_in is not None:
        lines.append(f"tokens     {e.tokens_in or 0} in / {e.tokens_out or 0} out, ${e.cost_usd or 0:.4f}")
    if e.diff:
        lines += ["", e.diff.rstrip()]
    if extra.get("profile"):
        lines += ["", "--- profile (top entries) ---", str(extra["profile"]).rstrip()]
    if e.log_dir:
        folder = Path(e.log_dir)
        lines.append(f"logs       {folder}")
        # The run's own logs, then each guard's (guard-<name>.stdout.log ...), which say why it failed.
        guards = sorted(p.name for p in folder.glob("guard-*.log")) if folder.is_dir() else []
        guards += sorted(p.name for p in folder.glob("stage-*.log")) if folder.is_dir() else []
        for name in ("stdout.log", "stderr.log", *guards):
            tail = read_tail(folder / name, 1500, whole_lines=True).rstrip()
            if tail:
                lines += ["", f"--- {name} (tail) ---", tail]
    return "\n".join(lines)


def _ended(e: Experiment) -> str:
    """How the run ended: 'timed out' rather than a missing exit code."""
    if e.exit_code is not None:
        return f"exit code {e.exit_code}"
    if "timed out" in (e.reason or ""):
        return "timed out"
    return "no exit code"


class LiveView:
    """A live panel on a terminal; one plain line per experiment otherwise (CI, nohup).

    The panel redraws on its own twice a second, so the clock, the ETA and the running experiments'
    elapsed times move while an experiment runs, not only when one ends.
    """

    def __init__(self, console: Console, next_steps: str | None = None) -> None:
        self.console = console
        self.live: Live | None = None
        self.recent: list[Experiment] = []
        self.next_steps = next_steps  # e.g. "autoresearch {command} examples/quickstart"

    def started(self, loop: Loop) -> None:
        spec = loop.spec
        resumed = f", resuming with {len(loop.history)} finished" if loop.history else ""
        self.console.print(
            f"autoresearch: study {spec.name} ({spec.mode} mode, proposer {loop.proposer.name}, "
            f"{loop.workers} worker{'s' * (loop.workers > 1)}{resumed})",
            markup=False,
            soft_wrap=True,
        )
        # An old spelling read as the new one, fewer workers than asked, a retried baseline, an accepted change.
        for note in [*spec.notes, *loop.notes]:
            self.console.print(f"autoresearch: {note}", markup=False, soft_wrap=True)
        self.recent = loop.history[-5:]
        if self.console.is_terminal:
            self.live = Live(
                console=self.console,
                get_renderable=lambda: self._render(loop),
                refresh_per_second=2,
                transient=False,
            )
            self.live.start()

    def finished(self, loop: Loop, experiment: Experiment) -> None:
        self.recent = [*self.recent, experiment][-5:]
        if self.live is not None:
            self.live.refresh()
            return
        s = _Stats(loop.spec, loop.history.tally, loop.elapsed, loop.history.front_figures())
        budget = f"/{loop.spec.budget.experiments}" if loop.spec.budget.experiments else ""
        self.console.print(
            f"[{s.used}{budget}] #{experiment.id} {experiment.decision} {_values(experiment)}"
            f" | {s.best_text()} | {s.per_hour:.0f} experiments/h | elapsed {_duration(s.elapsed)}"
            + (f" | ~{_duration(s.remaining)} left" if s.remaining is not None else "")
            + (f" | {one_line(experiment.reason, 80)}" if experiment.decision in FAILURES else ""),
            markup=False,
            soft_wrap=True,
        )

    def stopped(self, loop: Loop, outcome: Outcome) -> None:
        if self.live is not None:
            self.live.refresh()
            self.live.stop()
        s = _Stats(loop.spec, loop.history.tally, loop.elapsed, loop.history.front_figures())
        count = f"{outcome.experiments} experiments"
        if outcome.interrupted:  # they did not finish: resume re-runs them
            count = f"{outcome.experiments - outcome.interrupted} finished, {outcome.interrupted} interrupted"
        self.console.print(
            f"stopped: {outcome.stopped}. {s.best_text()}; {count} in {_duration(loop.elapsed)}",
            markup=False,
            soft_wrap=True,
        )
        if outcome.confirmation:
            self.console.print(outcome.confirmation, markup=False, soft_wrap=True)
        for line in proposer_lines(loop.store, outcome.experiments):
            self.console.print(line, markup=False, soft_wrap=True)
        if loop.spec.holdout is not None:
            spent = holdout_budget_text(loop.spec.holdout.budget, loop.referee.holdout_spent)
            self.console.print(spent, markup=False, soft_wrap=True)
        if self.next_steps and outcome.best is not None and not outcome.interrupted:
            steps = ", ".join(f"`{self.next_steps.format(command=c)}`" for c in ("report", "best", "apply"))
            self.console.print(f"next: {steps}", markup=False, soft_wrap=True)

    def _running(self, loop: Loop) -> str:
        """'running #7 (0m12s), #8 (0m03s)' for the experiments in flight, or ''."""
        try:
            running = [experiment for experiment, _, _ in list(loop._in_flight.values())]
        except RuntimeError:  # changed while we read it from the refresh thread: next time
            return ""
        now = time.time()
        shown = [f"#{e.id} ({_duration(now - (e.started_at or now))})" for e in sorted(running, key=lambda e: e.id)]
        return "running " + ", ".join(shown) if shown else ""

    def _render(self, loop: Loop) -> Any:
        spec = loop.spec
        s = _Stats(spec, loop.history.tally, loop.elapsed, loop.history.front_figures())
        total = spec.budget.experiments
        header = Text(f"{spec.name}  ", style="bold")
        header.append(f"experiment {s.used}" + (f" of {total}" if total else ""))
        # The bar takes what the header leaves, so the row fits any width (80 columns included).
        top = Table.grid(padding=(0, 2), expand=True)
        top.add_column(no_wrap=True)
        top.add_column(ratio=1)
        top.add_row(
            header,
            ProgressBar(total=float(total), completed=float(min(s.used_done, total))) if total else Text(""),
        )
        fields = [
            s.best_text(),
            f"keep rate {100 * s.keep_rate:.0f}%",
            f"throughput {s.per_hour:.1f}/h",
            f"elapsed {_duration(s.elapsed)}",
            *([f"ETA {_duration(s.remaining)}"] if s.remaining is not None else []),
            *([f"LLM cost ${s.cost:.3f}"] if s.cost else []),
        ]
        summary = Text("\n".join(packed(fields, self.console.width - 4)))  # the panel's border and padding
        table = Table(box=None, show_header=True, header_style="dim", pad_edge=False)
        for column in ("id", "strategy", "objective", "decision", "rationale"):
            table.add_column(column)
        for e in self.recent:
            table.add_row(
                str(e.id),
                e.strategy or "-",
                _values(e),
                Text(e.decision or "running", style=_STYLE.get(e.decision or "", "")),
                one_line(e.rationale or e.reason, 50),
            )
        parts: list[Any] = [top, summary, table]
        running = self._running(loop)
        if running:
            parts.append(Text(running, style="bold"))
        patience = spec.budget.patience or 20
        if s.since_improvement >= max(patience // 2, 5):
            parts.append(Text(f"warning: no improvement in {s.since_improvement} experiments", style="yellow"))
        failing = sum(1 for e in loop.history[-5:] if e.decision in FAILURES)
        if failing >= 5:
            parts.append(
                Text(
                    f"warning: the last 5 experiments failed or were rejected: {one_line(loop.history[-1].reason, 70)}",
                    style="red",
                )
            )
        return Panel(Group(*parts), title="autoresearch", border_style="blue")


def make_observer(console: Console, next_steps: str | None = None) -> LiveView:
    return LiveView(console, next_steps)
