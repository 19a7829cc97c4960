"""The lineage plot: which experiment each one was built on, coloured by decision.

Each experiment is a dot at (experiment #, depth), its depth being the number of steps from the root
of its tree (the baseline); a line joins it to its parent. A greedy chain is a staircase of kept
experiments with the reverted ones hanging off each step; a tree search shows its drafts, the debug
chains under failed nodes and the branches it improved. `lineage.png` goes into report.md, the same
figure (interactive) into report.html.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and in tests; must precede pyplot

import matplotlib.pyplot as plt
import plotly.graph_objects as go
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from autoresearch.core.experiment import FAILURES, INCUMBENT, Experiment
from autoresearch.search.archive import search_record
from autoresearch.ui.report.progress_plot import DECISION_COLORS

_WEBGL_ABOVE = 5000
ORDER = ("reverted", "failed", "rejected", "running", "baseline", "kept")  # drawn last = on top
_RUNNING = "#5f6368"


@dataclass
class Node:
    id: int
    parent_id: int | None  # None: a root, or a parent not among the experiments given
    depth: int
    decision: str  # or "running"
    objective: float | None
    task: str | None  # the search policy's task (improve, draft, debug, ...), when recorded


def lineage_nodes(experiments: Sequence[Experiment]) -> list[Node]:
    """Every experiment with its depth, in id order (a parent is always recorded before its children)."""
    depth: dict[int, int] = {}
    nodes = []
    for e in sorted(experiments, key=lambda e: e.id):
        parent = e.parent_id if e.parent_id in depth else None
        depth[e.id] = depth[parent] + 1 if parent is not None else 0
        task = search_record(e).get("task")
        nodes.append(Node(e.id, parent, depth[e.id], e.decision or "running", e.objective, task))
    return nodes


def _color(decision: str) -> str:
    return DECISION_COLORS.get(decision, _RUNNING)


def _edges(nodes: list[Node]) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    where = {n.id: (n.id, n.depth) for n in nodes}
    return [(where[n.parent_id], (n.id, n.depth)) for n in nodes if n.parent_id is not None]


def draw_lineage(experiments: Sequence[Experiment], title: str = "lineage") -> Figure:
    """The lineage plot as a matplotlib Figure (the caller saves and closes it)."""
    nodes = lineage_nodes(experiments)
    n = len(nodes)
    size = max(3.0, min(40.0, 400.0 / max(n, 1) ** 0.5))
    fig, ax = plt.subplots(figsize=(12, 5), layout="constrained")
    ax.set_title(title)
    ax.set_xlabel("experiment #")
    ax.set_ylabel("depth (steps from the baseline)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    edges = _edges(nodes)
    if edges:
        ax.add_collection(LineCollection(edges, colors="#bdc1c6", linewidths=0.8, zorder=1, rasterized=n > 500))
    for decision in ORDER:
        group = [node for node in nodes if node.decision == decision]
        if group:
            ax.scatter(
                [node.id for node in group],
                [node.depth for node in group],
                s=size * (2 if decision in INCUMBENT else 1),
                c=_color(decision),
                marker="x" if decision in FAILURES else "o",
                label=f"{decision} ({len(group)})",
                zorder=2,
                rasterized=n > 500,
            )
    if nodes:
        ax.legend(loc="upper left", fontsize="small")
        ax.autoscale_view()
    return fig


def plot_lineage(experiments: Sequence[Experiment], path: Path | str, title: str = "lineage", dpi: int = 120) -> Path:
    """Draw the lineage plot of EXPERIMENTS to PATH; returns PATH."""
    path = Path(path)
    fig = draw_lineage(experiments, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def lineage_figure(experiments: Sequence[Experiment]) -> go.Figure:
    """The interactive lineage plot for report.html: the same layers, with each node's details on hover."""
    nodes = lineage_nodes(experiments)
    scatter = go.Scattergl if len(nodes) > _WEBGL_ABOVE else go.Scatter
    fig = go.Figure()
    xs: list[int | None] = []
    ys: list[int | None] = []
    for (x0, y0), (x1, y1) in _edges(nodes):
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    if xs:
        fig.add_trace(
            scatter(x=xs, y=ys, mode="lines", line={"color": "#bdc1c6", "width": 1}, name="built on", hoverinfo="skip")
        )
    for decision in ORDER:
        group = [node for node in nodes if node.decision == decision]
        if group:
            fig.add_trace(
                scatter(
                    x=[node.id for node in group],
                    y=[node.depth for node in group],
                    mode="markers",
                    name=f"{decision} ({len(group)})",
                    marker={
                        "color": _color(decision),
                        "size": 10 if decision in INCUMBENT else 6,
                        "symbol": "x" if decision in FAILURES else "circle",
                    },
                    hovertext=[_hover(node) for node in group],
                    hoverinfo="text",
                )
            )
    fig.update_layout(
        xaxis_title="experiment #",
        yaxis_title="depth (steps from the baseline)",
        height=420,
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        legend={"orientation": "h"},
        template="plotly_white",
    )
    return fig


def _hover(node: Node) -> str:
    value = "" if node.objective is None else f" {node.objective:.6g}"
    built = "" if node.parent_id is None else f", built on #{node.parent_id}"
    task = f" ({node.task})" if node.task else ""
    return f"#{node.id} {node.decision}{value}{task}{built}"
