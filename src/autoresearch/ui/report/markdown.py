"""report.md: the same sections as report.html, as plain Markdown that reads well on GitHub."""

from __future__ import annotations

from pathlib import Path

from autoresearch.ui.report.escape import md_cell, md_code, md_code_cell, md_fence, md_text
from autoresearch.ui.report.pareto import front_lines
from autoresearch.ui.report.summary import Summary, holdout_label

MAX_DIFF_CHARS = 20_000  # per kept change: a huge generated diff must not bury the rest of the report


def fmt(value: float | None, digits: int = 6) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}g}"


def fmt_pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.1f}s"
    if seconds < 5400:
        return f"{seconds / 60:.1f}min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def summary_rows(s: Summary) -> list[tuple[str, str]]:
    """The headline figures, shared by the Markdown and HTML reports so that they always agree."""
    improvement = "—"
    if s.improvement_abs is not None:
        improvement = f"{fmt(s.improvement_abs)} ({fmt_pct(s.improvement_pct)})"
    counts = ", ".join(f"{d} {n}" for d, n in s.counts.items() if n)
    return [
        ("direction", s.direction),
        ("mode", s.mode),
        ("experiments", str(s.total)),
        ("by decision", counts or "—"),
        ("baseline", f"{fmt(s.baseline)} (#{s.baseline_id})" if s.baseline_id is not None else "—"),
        ("best", f"{fmt(s.best)} (#{s.best_id})" if s.best_id is not None else "—"),
        *(  # several objectives: `best` is the first objective's; the front is what was kept
            [("Pareto front", f"{len(s.front.members)} members, hypervolume {fmt(s.front.hypervolume)}")]
            if s.front is not None
            else []
        ),
        ("improvement", improvement + (" as selected by the search" if s.confirmed else "")),
        *([("confirmed improvement", s.confirmed)] if s.confirmed else []),
        ("keep rate", fmt_pct(None if s.keep_rate is None else 100 * s.keep_rate)),
        *([("noise", s.strict_line)] if s.strict_line else []),
        *([("holdout", s.holdout_budget)] if s.holdout_budget else []),
        *(  # a study whose proposer used no LLM has no spend to report
            [("LLM spend", f"${s.cost_usd:.4f} ({s.tokens_in:,} tokens in, {s.tokens_out:,} out)")]
            if s.cost_usd or s.tokens_in or s.tokens_out
            else []
        ),
        ("wall time", fmt_duration(s.wall_s)),
        ("compute time", fmt_duration(s.compute_s)),
        ("experiments/hour", fmt(s.experiments_per_hour, 4)),
    ]


# Every cell and line below passes through report/escape.py: `_cell` for our own words and figures,
# `_quoted` for what a candidate or an LLM wrote (a code span: no HTML, link or image can act).
_cell = md_cell
_quoted = md_code_cell


def render_markdown(
    s: Summary,
    *,
    progress_png: str | None = "progress.png",
    lessons: str | None = None,
    lineage_png: str | None = None,
) -> str:
    out: list[str] = [f"# autoresearch report: {md_text(s.name)}", ""]
    for warning in s.warnings:
        out += [f"> **Warning** — {md_cell(warning)}", ""]
    if s.holdout is not None and s.holdout.diverged:
        out += [f"> **Warning** — {md_cell(s.holdout.message)}", ""]
    out += ["## Summary", "", "| | |", "| --- | --- |"]
    out += [f"| {k} | {_cell(v)} |" for k, v in summary_rows(s)]
    out.append("")
    if progress_png:
        out += ["## Progress", "", f"![progress]({progress_png})", ""]
    if s.front is not None:
        out += ["## Pareto front", ""]
        out += ["![Pareto front](front.png)", ""] if progress_png else []
        out += [*front_lines(s.front), ""]
    if lineage_png:
        out += ["## Lineage", "", f"Search policy: {md_text(s.policy)}. Which experiment each was built on:", ""]
        out += [f"![lineage]({lineage_png})", ""]
        if s.heads:
            out += ["| lineage | best | objective |", "| --- | --- | --- |"]
            out += [f"| {_cell(h.name)} | #{h.id} | {fmt(h.objective)} |" for h in s.heads]
            out.append("")

    if s.holdout is not None and s.holdout.points:
        out += ["## Objective vs holdout", "", md_cell(s.holdout.message), ""]
        out += ["| # | objective | " + _cell(holdout_label(s.holdout.metric)) + " |", "| --- | --- | --- |"]
        out += [f"| {p.id} | {fmt(p.objective)} | {fmt(p.holdout)} |" for p in s.holdout.points]
        out.append("")

    if s.strategies:
        out += ["## Strategies", "", "| strategy | tried | kept | success | reverted | failed | rejected |"]
        out.append("| --- | --- | --- | --- | --- | --- | --- |")
        for st in s.strategies:
            out.append(
                f"| {_quoted(st.strategy)} | {st.total} | {st.kept} | {fmt_pct(100 * st.success_rate)} "
                f"| {st.reverted} | {st.failed} | {st.rejected} |"
            )
        out.append("")

    if s.mode == "params":
        out += ["## Parameter importance", ""]
        if s.param_importances:
            out += [
                f"Method: {s.importance_method} (each parameter's share of the objective's rank variance it"
                " explains beyond chance).",
                "",
                "| parameter | importance |",
                "| --- | --- |",
            ]
            out += [f"| {_cell(k)} | {v:.3f} |" for k, v in s.param_importances.items()]
        else:
            out.append(f"Not available: {s.importance_error or 'no search space'}.")
        out.append("")

    if s.chain:
        out += ["## Chain of kept changes", ""]
        for step in s.chain:
            delta = "" if step.delta is None else f", Δ {step.delta:+.6g}"
            out.append(f"### #{step.id} — {_cell(step.decision)}: {fmt(step.objective)}{delta}")
            out.append("")
            if step.strategy:
                out.append(f"*strategy:* {md_code(step.strategy)}  ")
            if step.rationale:
                out.append(f"*rationale:* {md_code(step.rationale)}")
            out.append("")
            for curve in step.curves:
                out.append(f"- curve {md_code(curve)}")
            if step.feedback:
                out += ["", "*feedback:*", "", *md_fence(step.feedback)]
            if step.curves or step.feedback:
                out.append("")
            if step.params and s.mode == "params":
                out.append(md_code(", ".join(f"{k}={v!r}" for k, v in step.params.items())))
                out.append("")
            if step.diff:
                diff = step.diff
                if len(diff) > MAX_DIFF_CHARS:
                    diff = diff[:MAX_DIFF_CHARS] + f"\n... ({len(step.diff) - MAX_DIFF_CHARS} more characters)"
                out += [*md_fence(diff, "diff"), ""]

    if lessons:  # an LLM proposer wrote them: shown as text, as report.html shows them
        out += ["## Lessons", "", *md_fence(lessons.strip()), ""]

    if s.failure_reasons:
        out += [
            "## Top failure reasons",
            "",
            "| count | decisions | reason | e.g. |",
            "| --- | --- | --- | --- |",
        ]
        for f in s.failure_reasons:
            decisions = ", ".join(f"{d} {n}" for d, n in f.decisions.items())
            examples = ", ".join(f"#{i}" for i in f.example_ids)
            out.append(f"| {f.count} | {_cell(decisions)} | {_quoted(f.example or f.reason)} | {examples} |")
        out.append("")

    if s.rows:
        shown = (
            f" (the last {len(s.rows)} of {s.total}; `autoresearch export` has all)" if len(s.rows) < s.total else ""
        )
        out += [
            f"## Experiments{shown}",
            "",
            "| # | parent | decision | objective | strategy | why | rationale |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in s.rows:
            out.append(
                f"| {r.id} | {'' if r.parent_id is None else r.parent_id} | {r.decision} | {fmt(r.objective)} "
                f"| {_quoted(r.strategy or '')} | {_quoted(r.reason)} | {_quoted(r.rationale)} |"
            )
        out.append("")
    return "\n".join(out)


def write_markdown(
    s: Summary, path: Path, *, progress_png: str | None, lessons: str | None, lineage_png: str | None = None
) -> Path:
    path.write_text(render_markdown(s, progress_png=progress_png, lessons=lessons, lineage_png=lineage_png))
    return path
