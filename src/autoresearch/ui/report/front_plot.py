"""The Pareto front drawn: front.png for report.md, an interactive figure for report.html.

Two objectives: a scatter of every measured experiment, the front's members highlighted and joined by
the staircase they dominate. More: one such scatter per pair of objectives (a scatter matrix in the
HTML report), since a member of the front may lie inside any single pair's front.
"""

from __future__ import annotations

import html
import itertools
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and in tests; must precede pyplot

import matplotlib.pyplot as plt
import plotly.graph_objects as go
from matplotlib.axes import Axes

from autoresearch.core.direction import sign
from autoresearch.ui.report.pareto import FrontReport

FRONT_COLOR = "#d93025"
OTHER_COLOR = "#9aa0a6"


def _staircase(points: list[tuple[float, float]], directions: tuple[str, str]) -> tuple[list[float], list[float]]:
    """The boundary the front dominates, as a step line through its members (sorted by the first objective)."""
    ordered = sorted(points, key=lambda p: sign(directions[0]) * p[0])
    xs: list[float] = []
    ys: list[float] = []
    for x, y in ordered:
        if xs:
            xs.append(x)
            ys.append(ys[-1])
        xs.append(x)
        ys.append(y)
    return xs, ys


def _pair_axes(ax: Axes, report: FrontReport, i: int, j: int) -> None:
    members = {e.id for e in report.members}
    others = [report.point(e) for e in report.measured if e.id not in members]
    front = [report.point(e) for e in report.members]
    if others:
        ax.scatter([p[i] for p in others], [p[j] for p in others], s=18, color=OTHER_COLOR, alpha=0.6, label="measured")
    pair = [(p[i], p[j]) for p in front]
    xs, ys = _staircase(pair, (report.directions[i], report.directions[j]))
    ax.plot(xs, ys, color=FRONT_COLOR, linewidth=1, alpha=0.6)
    ax.scatter([p[0] for p in pair], [p[1] for p in pair], s=42, color=FRONT_COLOR, zorder=3, label="Pareto front")
    for experiment, (x, y) in itertools.islice(zip(report.members, pair, strict=True), 30):
        ax.annotate(f"#{experiment.id}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xlabel(f"{report.names[i]} ({report.directions[i]})")
    ax.set_ylabel(f"{report.names[j]} ({report.directions[j]})")
    ax.grid(alpha=0.3)


def plot_front(report: FrontReport, path: Path, title: str, dpi: int = 150) -> Path:
    """front.png: the scatter of each pair of objectives with the front highlighted; returns PATH."""
    pairs = list(itertools.combinations(range(len(report.names)), 2))
    columns = min(3, len(pairs))
    rows = math.ceil(len(pairs) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6 * columns, 4.5 * rows), layout="constrained", squeeze=False)
    for ax, (i, j) in zip(axes.flat, pairs, strict=False):
        _pair_axes(ax, report, i, j)
    for ax in list(axes.flat)[len(pairs) :]:
        ax.set_visible(False)
    axes.flat[0].legend(loc="best", fontsize=8)
    fig.suptitle(f"{title}: {len(report.members)} on the Pareto front, hypervolume {report.hypervolume:.4g}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def front_figure(report: FrontReport) -> go.Figure:
    """The interactive front: a scatter for two objectives, a scatter matrix for more."""
    members = {e.id for e in report.members}
    hover = [f"#{e.id} {e.decision}<br>{html.escape(report.describe(e)[:160])}" for e in report.measured]
    colors = [FRONT_COLOR if e.id in members else OTHER_COLOR for e in report.measured]
    points = [report.point(e) for e in report.measured]
    fig = go.Figure()
    if len(report.names) == 2:
        fig.add_trace(
            go.Scatter(
                x=[p[0] for p in points],
                y=[p[1] for p in points],
                mode="markers",
                marker={"color": colors, "size": [11 if e.id in members else 7 for e in report.measured]},
                text=hover,
                hoverinfo="text",
                name="experiments",
            )
        )
        pair = [(p[0], p[1]) for p in map(report.point, report.members)]
        xs, ys = _staircase(pair, (report.directions[0], report.directions[1]))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"color": FRONT_COLOR}, name="Pareto front"))
        fig.update_xaxes(title=f"{report.names[0]} ({report.directions[0]})")
        fig.update_yaxes(title=f"{report.names[1]} ({report.directions[1]})")
    else:
        dimensions = [{"label": name, "values": [p[k] for p in points]} for k, name in enumerate(report.names)]
        fig.add_trace(go.Splom(dimensions=dimensions, marker={"color": colors, "size": 6}, text=hover))
    fig.update_layout(height=480, margin={"l": 60, "r": 20, "t": 30, "b": 50}, showlegend=False)
    return fig
