"""report.html (one self-contained file, interactive, offline) and report.md, from a study's store.

`write_report` is what `autoresearch report` calls. The HTML page embeds plotly.js inline exactly once
and references nothing outside itself, so it can be mailed, archived or opened on an air-gapped box.
"""

from __future__ import annotations

import base64
import functools
import gzip
import html
import json
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from autoresearch.core.experiment import INCUMBENT, Decision, Experiment
from autoresearch.engine.paired import Confirmation
from autoresearch.execute.sandbox import recorded_warnings
from autoresearch.spec import Spec
from autoresearch.store.database import Store
from autoresearch.ui.report.front_plot import front_figure, plot_front
from autoresearch.ui.report.lineage import lineage_figure, plot_lineage
from autoresearch.ui.report.markdown import MAX_DIFF_CHARS, fmt, fmt_pct, summary_rows, write_markdown
from autoresearch.ui.report.pareto import FrontReport, front_report
from autoresearch.ui.report.progress_plot import DECISION_COLORS, plot_progress
from autoresearch.ui.report.summary import Head, Summary, holdout_label, running_best, summarize_spec

# SVG scatter is fine up to a few thousand points; beyond that WebGL keeps the page responsive.
_WEBGL_ABOVE = 5000
_SLICE_MAX_POINTS = 2000  # per parameter: the shape shows long before every point is drawn
_PLOT_CONFIG = {"displaylogo": False, "responsive": True}


def write_report(spec: Spec, store: Store, out_dir: Path | None = None) -> tuple[Path, Path]:
    """Write the report into OUT_DIR (default: <study_dir>/report); returns report.html's and report.md's paths."""
    html_path, md_path, *_ = write_report_files(spec, store, out_dir)
    return html_path, md_path


def write_report_files(spec: Spec, store: Store, out_dir: Path | None = None) -> list[Path]:
    """Write report.html, report.md, progress.png and lineage.png into OUT_DIR (default:
    <study_dir>/report); returns every file written, in that order, for the user to be told."""
    out_dir = Path(out_dir) if out_dir is not None else spec.study_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    experiments = store.experiments()
    summary = summarize_spec(spec, experiments)
    confirmation = Confirmation.from_store(store)
    if confirmation is not None:
        summary.confirmed = confirmation.figure()
    summary.warnings += recorded_warnings(store)
    summary.policy, summary.heads = search_heads(store)
    summary.front = front_report(spec, experiments)
    lessons_file = spec.study_dir / "lessons.md"
    lessons = lessons_file.read_text(errors="replace") if lessons_file.is_file() else None
    progress_path = plot_progress(
        experiments,
        spec.study.direction,
        out_dir / "progress.png",
        title=f"{spec.name}: {summary.total} experiments",
        metric_label=spec.metric.name,
    )
    lineage_path = plot_lineage(
        experiments, out_dir / "lineage.png", title=f"{spec.name}: which experiment each was built on"
    )
    md_path = write_markdown(
        summary, out_dir / "report.md", progress_png="progress.png", lessons=lessons, lineage_png="lineage.png"
    )
    html_path = out_dir / "report.html"
    log_params = {name for name, p in spec.params.items() if p.log}
    page = render_html(summary, experiments, metric_label=spec.metric.name, lessons=lessons, log_params=log_params)
    html_path.write_text(page)
    if summary.front is None:
        return [html_path, md_path, progress_path, lineage_path]
    front_path = plot_front(summary.front, out_dir / "front.png", title=spec.name)
    return [html_path, md_path, progress_path, lineage_path, front_path]


def search_heads(store: Store) -> tuple[str, list[Head]]:
    """The study's search policy and the lineage heads it last named (the loop records both)."""
    policy = store.get_meta("search_policy") or "greedy"
    heads = []
    for name, experiment_id in json.loads(store.get_meta("search_heads") or "{}").items():
        try:
            experiment = store.get(int(experiment_id))
        except KeyError:
            continue
        heads.append(Head(name, experiment.id, experiment.objective))
    return policy, heads


def _fig_html(fig: go.Figure) -> str:
    """A figure as a placeholder and its JSON; the loader draws it once plotly.js is unpacked."""
    _fig_html.count += 1  # type: ignore[attr-defined]
    div = f"plot-{_fig_html.count}"  # type: ignore[attr-defined]
    # `</` inside a script element would end it early; `<\/` is the same JSON.
    data = fig.to_json().replace("</", "<\\/")
    return f"<div id='{div}' class='plot'></div><script type='application/json' data-plot='{div}'>{data}</script>"


_fig_html.count = 0  # type: ignore[attr-defined]


@functools.cache
def packed_plotlyjs() -> str:
    """plotly.js, gzipped and base64-encoded: 1.9 MB instead of 4.8 MB, unpacked by the browser itself."""
    return base64.b64encode(gzip.compress(get_plotlyjs().encode(), compresslevel=9, mtime=0)).decode()


# Unpacks plotly.js (DecompressionStream: every current browser, offline) and draws each figure.
_LOADER = """
(async () => {
  const packed = document.getElementById('plotly-gz').textContent;
  const bytes = Uint8Array.from(atob(packed), c => c.charCodeAt(0));
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'));
  (0, eval)(await new Response(stream).text());
  for (const holder of document.querySelectorAll('script[data-plot]')) {
    const fig = JSON.parse(holder.textContent);
    Plotly.newPlot(holder.dataset.plot, fig.data, fig.layout, CONFIG);
  }
})();
"""


def _scatter_cls(n: int) -> Any:
    return go.Scattergl if n > _WEBGL_ABOVE else go.Scatter


def _hover(e: Experiment) -> str:
    rationale = html.escape((e.rationale or "")[:160])
    value = fmt(e.objective) if e.objective is not None else html.escape((e.reason or "")[:120])
    # Plotly reads hover text and tick labels as a subset of HTML (links included): a candidate's words escaped.
    return f"#{e.id} {e.decision or e.status}: {value}<br>{html.escape(e.strategy or '')} {rationale}"


def progress_figure(experiments: Sequence[Experiment], direction: str, metric_label: str) -> go.Figure:
    """The interactive progress plot: same layers as progress.png, with hover details."""
    fig = go.Figure()
    scatter = _scatter_cls(len(experiments))
    ok = [e for e in experiments if e.ok and e.objective is not None and math.isfinite(e.objective)]
    for decision, size in ((Decision.REVERTED, 5), (Decision.BASELINE, 12), (Decision.KEPT, 10)):
        group = [e for e in ok if e.decision == decision]
        if group:
            fig.add_trace(
                scatter(
                    x=[e.id for e in group],
                    y=[e.objective for e in group],
                    mode="markers",
                    name=f"{decision} ({len(group)})",
                    marker={
                        "color": DECISION_COLORS[decision],
                        "size": size,
                        "opacity": 0.55 if decision == Decision.REVERTED else 1,
                    },
                    hovertext=[_hover(e) for e in group],
                    hoverinfo="text",
                )
            )
    incumbents = [e for e in ok if e.decision in INCUMBENT]
    if incumbents and experiments:
        xs, ys = running_best(incumbents, experiments[-1].id, direction)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"shape": "hv", "color": DECISION_COLORS[Decision.KEPT]},
                name="running best",
                hoverinfo="skip",
            )
        )
    # Failures have no objective: put them on a hidden axis pinned to the top of the plot.
    for decision, y in ((Decision.FAILED, 0.98), (Decision.REJECTED, 0.95), (Decision.PRUNED, 0.92)):
        group = [e for e in experiments if e.decision == decision]
        if group:
            fig.add_trace(
                scatter(
                    x=[e.id for e in group],
                    y=[y] * len(group),
                    yaxis="y2",
                    mode="markers",
                    name=f"{decision} ({len(group)})",
                    marker={"symbol": "x", "color": DECISION_COLORS[decision], "size": 6},
                    hovertext=[_hover(e) for e in group],
                    hoverinfo="text",
                )
            )
    baseline = next((e for e in ok if e.decision == Decision.BASELINE), None)
    if baseline is not None:
        fig.add_hline(
            y=baseline.objective,
            line_dash="dash",
            line_color=DECISION_COLORS[Decision.BASELINE],
            annotation_text="baseline",
            annotation_position="top left",
        )
    fig.update_layout(
        xaxis_title="experiment #",
        yaxis_title=f"{metric_label} ({'lower' if direction == 'minimize' else 'higher'} is better)",
        yaxis2={"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True},
        height=480,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        legend={"orientation": "h"},
        template="plotly_white",
    )
    return fig


def _holdout_figure(s: Summary) -> go.Figure | None:
    if s.holdout is None or not s.holdout.points:
        return None
    pts = s.holdout.points
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(x=[p.id for p in pts], y=[p.objective for p in pts], mode="lines+markers", name="search objective"),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=[p.id for p in pts],
            y=[p.holdout for p in pts],
            mode="lines+markers",
            name=holdout_label(s.holdout.metric),
        ),
        secondary_y=True,
    )
    fig.update_layout(height=360, template="plotly_white", margin={"t": 30}, xaxis_title="kept experiment #")
    return fig


def _strategy_figure(s: Summary) -> go.Figure | None:
    if not s.strategies:
        return None
    fig = go.Figure(
        go.Bar(
            x=[html.escape(st.strategy) for st in s.strategies],
            y=[100 * st.success_rate for st in s.strategies],
            text=[f"{st.kept}/{st.total}" for st in s.strategies],
            textposition="outside",
        )
    )
    fig.update_layout(height=320, template="plotly_white", yaxis_title="kept %", margin={"t": 30})
    return fig


def _importance_figure(s: Summary) -> go.Figure | None:
    if not s.param_importances:
        return None
    items = sorted(s.param_importances.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[k for k, _ in items], orientation="h"))
    fig.update_layout(
        height=max(220, 40 * len(items) + 80),
        template="plotly_white",
        margin={"t": 30},
        xaxis_title=f"importance ({s.importance_method})",
    )
    return fig


def _slices_figure(s: Summary, metric_label: str, log_params: set[str]) -> go.Figure | None:
    if not s.slices:
        return None
    names = list(s.param_importances or {}) or sorted(s.slices)
    names += [n for n in sorted(s.slices) if n not in names]
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=names)
    for i, name in enumerate(names):
        points = s.slices.get(name, [])
        if len(points) > _SLICE_MAX_POINTS:
            stride = len(points) / _SLICE_MAX_POINTS
            points = [points[int(k * stride)] for k in range(_SLICE_MAX_POINTS)]
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="markers",
                showlegend=False,
                marker={"size": 5, "opacity": 0.5, "color": [p[2] for p in points], "colorscale": "Viridis"},
                hovertext=[f"#{p[2]}" for p in points],
                hoverinfo="text+x+y",
            ),
            row=i // cols + 1,
            col=i % cols + 1,
        )
        if name in log_params:  # a log-uniform range is unreadable on a linear axis
            fig.update_xaxes(type="log", row=i // cols + 1, col=i % cols + 1)
    fig.update_layout(height=300 * rows, template="plotly_white", margin={"t": 40})
    fig.update_yaxes(title_text=metric_label, col=1)
    return fig


def _front_html(front: FrontReport) -> str:
    """The Pareto front: its figure and one row per member (values, and what it changed)."""
    esc = html.escape
    names = "".join(f"<th>{esc(n)} ({esc(d)})</th>" for n, d in zip(front.names, front.directions, strict=True))
    reference = ", ".join(f"{n} {fmt(v)}" for n, v in zip(front.names, front.reference, strict=True))
    parts = [
        "<h2 id='front'>Pareto front</h2>",
        f"<p>{len(front.members)} member(s), none dominated by another; hypervolume {fmt(front.hypervolume)} from "
        f"the reference point ({esc(reference)}: a tenth of each objective's range beyond its worst measured "
        "value). <code>autoresearch apply ID</code> takes one.</p>",
        _fig_html(front_figure(front)),
        f"<table><tr><th>#</th>{names}<th>change</th></tr>",
    ]
    for member in front.members:
        values = "".join(f"<td>{fmt(v)}</td>" for v in front.point(member))
        parts.append(f"<tr><td>{member.id}</td>{values}<td><code>{esc(front.describe(member))}</code></td></tr>")
    parts.append("</table>")
    return "\n".join(parts)


def highlight_diff(diff: str) -> str:
    """A unified diff as escaped HTML lines, added/removed/hunk lines wrapped in classed spans."""
    lines = []
    for line in diff.splitlines():
        cls = "hunk" if line.startswith("@@") else {"+": "add", "-": "del"}.get(line[:1], "")
        lines.append(f'<span class="{cls}">{html.escape(line)}</span>' if cls else html.escape(line))
    return "\n".join(lines)


def _diff_html(diff: str) -> str:
    if len(diff) > MAX_DIFF_CHARS:
        diff = diff[:MAX_DIFF_CHARS] + f"\n... ({len(diff) - MAX_DIFF_CHARS} more characters)"
    return '<pre class="diff">' + highlight_diff(diff) + "</pre>"


CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1200px;
  padding:16px 24px;color:#202124}
h1{font-size:22px}
h2{font-size:18px;margin-top:32px;border-bottom:1px solid #dadce0;padding-bottom:4px}
table{border-collapse:collapse;margin:8px 0}
td,th{border:1px solid #dadce0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f1f3f4}
.warn{background:#fce8e6;border:1px solid #d93025;padding:8px 12px;border-radius:4px}
pre{background:#f8f9fa;padding:8px;overflow:auto;white-space:pre-wrap}
.diff .add{color:#137333}
.diff .del{color:#a50e0e}
.diff .hunk{color:#1967d2}
details{margin:4px 0}
.muted{color:#5f6368}
.why{white-space:pre-wrap;font-size:12px}
"""


def render_html(
    s: Summary,
    experiments: Sequence[Experiment],
    *,
    metric_label: str = "objective",
    lessons: str | None = None,
    log_params: set[str] | None = None,
) -> str:
    esc = html.escape
    parts: list[str] = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'>",
        f"<title>autoresearch report: {esc(s.name)}</title><style>{CSS}</style>",
        # plotly.js inline, once, packed: the report must work offline and reference nothing outside itself.
        f"<script id='plotly-gz' type='application/octet-stream'>{packed_plotlyjs()}</script></head><body>",
        f"<h1>autoresearch report: {esc(s.name)}</h1>",
        f"<p class='muted'>generated {esc(time.strftime('%Y-%m-%d %H:%M:%S'))}</p>",
    ]
    for warning in s.warnings:
        parts.append(f"<p class='warn'><b>Warning:</b> {esc(warning)}</p>")
    if s.holdout is not None and s.holdout.diverged:
        parts.append(f"<p class='warn' id='divergence'><b>Warning:</b> {esc(s.holdout.message)}</p>")
    parts.append("<h2 id='summary'>Summary</h2><table>")
    parts += [f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in summary_rows(s)]
    parts.append("</table>")
    parts.append("<h2 id='progress'>Progress</h2>")
    parts.append(_fig_html(progress_figure(experiments, s.direction, metric_label)))
    if s.front is not None:
        parts.append(_front_html(s.front))

    parts.append(
        f"<h2 id='lineage'>Lineage</h2><p>Search policy: {esc(s.policy)}. Which experiment each was built on.</p>"
    )
    parts.append(_fig_html(lineage_figure(experiments)))
    if s.heads:
        parts.append("<table><tr><th>lineage</th><th>best</th><th>objective</th></tr>")
        parts += [f"<tr><td>{esc(h.name)}</td><td>#{h.id}</td><td>{fmt(h.objective)}</td></tr>" for h in s.heads]
        parts.append("</table>")

    holdout_fig = _holdout_figure(s)
    if holdout_fig is not None and s.holdout is not None:
        parts.append(f"<h2 id='holdout'>Objective vs holdout</h2><p>{esc(s.holdout.message)}</p>")
        parts.append(_fig_html(holdout_fig))

    if s.strategies:
        parts.append("<h2 id='strategies'>Strategies</h2>")
        fig = _strategy_figure(s)
        if fig is not None:
            parts.append(_fig_html(fig))
        parts.append(
            "<table><tr><th>strategy</th><th>tried</th><th>kept</th><th>success</th>"
            "<th>reverted</th><th>failed</th><th>rejected</th></tr>"
        )
        for st in s.strategies:
            parts.append(
                f"<tr><td>{esc(st.strategy)}</td><td>{st.total}</td><td>{st.kept}</td>"
                f"<td>{fmt_pct(100 * st.success_rate)}</td><td>{st.reverted}</td><td>{st.failed}</td>"
                f"<td>{st.rejected}</td></tr>"
            )
        parts.append("</table>")

    if s.mode == "params":
        parts.append("<h2 id='importance'>Parameter importance</h2>")
        fig = _importance_figure(s)
        if fig is not None:
            parts.append(_fig_html(fig))
        else:
            parts.append(f"<p class='muted'>Not available: {esc(s.importance_error or 'no search space')}.</p>")
        slices = _slices_figure(s, metric_label, log_params or set())
        if slices is not None:
            parts.append("<h3>Objective vs each parameter</h3>")
            parts.append(_fig_html(slices))

    if s.chain:
        parts.append(
            "<h2 id='chain'>Chain of kept changes</h2><table><tr><th>#</th><th>objective</th>"
            "<th>Δ</th><th>strategy</th><th>rationale and change</th></tr>"
        )
        for step in s.chain:
            change = ""
            if step.params and s.mode == "params":
                change += "<br><code>" + esc(", ".join(f"{k}={v!r}" for k, v in step.params.items())) + "</code>"
            for curve in step.curves:
                change += f"<br><code>{esc(curve)}</code>"
            if step.feedback:
                change += f"<details><summary>feedback</summary><pre>{esc(step.feedback)}</pre></details>"
            if step.diff:
                change += f"<details><summary>diff</summary>{_diff_html(step.diff)}</details>"
            delta = "" if step.delta is None else f"{step.delta:+.6g}"
            parts.append(
                f"<tr><td>{step.id}</td><td>{fmt(step.objective)}</td><td>{delta}</td>"
                f"<td>{esc(step.strategy or '')}</td><td>{esc(step.rationale or '')}{change}</td></tr>"
            )
        parts.append("</table>")

    if lessons:
        parts.append(f"<h2 id='lessons'>Lessons</h2><pre>{esc(lessons)}</pre>")

    if s.failure_reasons:
        parts.append(
            "<h2 id='failures'>Top failure reasons</h2><table><tr><th>count</th><th>decisions</th>"
            "<th>reason (the first one, as recorded)</th><th>e.g.</th></tr>"
        )
        for f in s.failure_reasons:
            decisions = ", ".join(f"{d} {n}" for d, n in f.decisions.items())
            parts.append(
                f"<tr><td>{f.count}</td><td>{esc(decisions)}</td><td class='why'>{esc(f.example or f.reason)}</td>"
                f"<td>{esc(', '.join(f'#{i}' for i in f.example_ids))}</td></tr>"
            )
        parts.append("</table>")

    if s.rows:
        shown = (
            f" (the last {len(s.rows)} of {s.total}; `autoresearch export` has all)" if len(s.rows) < s.total else ""
        )
        parts.append(
            f"<h2 id='experiments'>Experiments{esc(shown)}</h2><table><tr><th>#</th><th>parent</th>"
            "<th>decision</th><th>objective</th><th>strategy</th><th>why</th><th>rationale</th></tr>"
        )
        for r in s.rows:
            color = DECISION_COLORS.get(r.decision, "#5f6368")
            parts.append(
                f"<tr><td>{r.id}</td><td>{'' if r.parent_id is None else r.parent_id}</td>"
                f"<td style='color:{color}'>{esc(r.decision)}</td><td>{fmt(r.objective)}</td>"
                f"<td>{esc(r.strategy or '')}</td><td class='why'>{esc(r.reason)}</td><td>{esc(r.rationale)}</td></tr>"
            )
        parts.append("</table>")
    parts.append(f"<script>const CONFIG = {json.dumps(_PLOT_CONFIG)};{_LOADER}</script>")
    parts.append("</body></html>")
    return "\n".join(parts)
