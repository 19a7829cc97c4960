"""progress.png: the study at a glance, in the style of karpathy/autoresearch's progress plot.

Every experiment is a dot by order, kept ones stand out, the running best is a step line, the
baseline a reference line, and the largest kept improvements carry a short rationale. It has to stay
readable from 10 to many thousands of experiments, so marker sizes and alpha scale with the count,
dense layers are rasterized, labels are capped, and far outliers are pinned to the edge.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and in tests; must precede pyplot

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.ticker import MaxNLocator
from matplotlib.transforms import Bbox

from autoresearch.core.direction import sign
from autoresearch.core.experiment import FAILURES, INCUMBENT, Decision, Experiment
from autoresearch.ui.report.summary import running_best

MAX_LABELS = 15
DECISION_COLORS: dict[str, str] = {  # shared by progress.png and the HTML report
    Decision.REVERTED: "#9aa0a6",
    Decision.KEPT: "#1e8e3e",
    Decision.BASELINE: "#1a73e8",
    Decision.FAILED: "#d93025",
    Decision.REJECTED: "#f29900",
    Decision.PRUNED: "#a142f4",
}


def _short(text: str | None, width: int = 38) -> str:
    text = " ".join((text or "").split())
    return textwrap.shorten(text, width=width, placeholder="…") if text else ""


def _y(e: Experiment) -> float:
    assert e.objective is not None
    return e.objective


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def plot_progress(
    experiments: Sequence[Experiment],
    direction: str,
    path: Path | str,
    title: str = "autoresearch progress",
    *,
    metric_label: str = "objective",
    max_labels: int = MAX_LABELS,
    dpi: int = 150,
) -> Path:
    """Draw the progress plot of EXPERIMENTS (any order) to PATH (.png, .svg, .pdf); returns PATH."""
    path = Path(path)
    fig = draw_progress(experiments, direction, title, metric_label=metric_label, max_labels=max_labels)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def draw_progress(
    experiments: Sequence[Experiment],
    direction: str,
    title: str = "autoresearch progress",
    *,
    metric_label: str = "objective",
    max_labels: int = MAX_LABELS,
) -> Figure:
    """The progress plot as a matplotlib Figure (the caller saves and closes it)."""
    experiments = sorted(experiments, key=lambda e: e.id)
    n = len(experiments)
    # Marker size and alpha fall with the count: 10 points can be fat, 5,000 must not merge into a blob.
    size = max(3.0, min(40.0, 400.0 / math.sqrt(max(n, 1))))
    alpha = max(0.25, min(0.8, 30.0 / math.sqrt(max(n, 1))))
    rasterize = n > 500

    bad = [e for e in experiments if e.decision in FAILURES]
    # Failures and rejections have no usable objective: they get a strip of their own under the plot,
    # rather than sitting on its top edge where they read as the worst values.
    if bad:
        fig, (ax, strip) = plt.subplots(
            2, 1, figsize=(12, 6), layout="constrained", sharex=True, height_ratios=[10, 1.4]
        )
    else:
        fig, ax = plt.subplots(figsize=(12, 6), layout="constrained")
        strip = None
    ax.set_title(title)
    (strip or ax).set_xlabel("experiment #")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # experiments are counted, never fractional
    ax.set_ylabel(f"{metric_label} ({'lower' if direction == 'minimize' else 'higher'} is better)")
    ax.grid(True, alpha=0.3)

    ok = [e for e in experiments if e.ok and e.objective is not None and math.isfinite(e.objective)]
    incumbents = [e for e in ok if e.decision in INCUMBENT]

    # Robust y-limits: all incumbents plus the central 96% of the rest, so one diverged run at 1e9
    # does not flatten the whole plot; points beyond are drawn on the edge as triangles.
    ylim: tuple[float, float] | None = None
    if ok:
        values = sorted(_y(e) for e in ok)
        lo, hi = _quantile(values, 0.02), _quantile(values, 0.98)
        for e in incumbents:
            assert e.objective is not None
            lo, hi = min(lo, e.objective), max(hi, e.objective)
        pad = (hi - lo) * 0.08 or abs(hi) * 0.05 or 1.0
        ylim = (lo - pad, hi + pad)

    def clip(v: float) -> float:
        return v if ylim is None else min(max(v, ylim[0]), ylim[1])

    reverted = [e for e in ok if e.decision == Decision.REVERTED]
    inside: list[Experiment] = []
    outside: list[Experiment] = []
    for e in reverted:
        assert e.objective is not None
        (inside if ylim is None or ylim[0] <= e.objective <= ylim[1] else outside).append(e)
    if inside:
        ax.scatter(
            [e.id for e in inside],
            [_y(e) for e in inside],
            s=size,
            c=DECISION_COLORS[Decision.REVERTED],
            alpha=alpha,
            linewidths=0,
            label=f"reverted ({len(reverted)})",
            rasterized=rasterize,
            zorder=2,
        )
    if outside:
        ax.scatter(
            [e.id for e in outside],
            [clip(_y(e)) for e in outside],
            s=size * 1.5,
            marker="^" if direction == "minimize" else "v",
            c=DECISION_COLORS[Decision.REVERTED],
            alpha=alpha,
            linewidths=0,
            label=f"off-scale ({len(outside)})",
            rasterized=rasterize,
            zorder=2,
        )

    # The running best as a step line through the incumbents, extended to the last experiment.
    if incumbents:
        xs, ys = running_best(incumbents, experiments[-1].id, direction)
        ax.step(
            xs, ys, where="post", color=DECISION_COLORS[Decision.KEPT], linewidth=1.8, label="running best", zorder=3
        )

    baseline = next((e for e in ok if e.decision == Decision.BASELINE), None)
    if baseline is not None:
        assert baseline.objective is not None
        ax.axhline(
            baseline.objective,
            color=DECISION_COLORS[Decision.BASELINE],
            linestyle="--",
            linewidth=1,
            alpha=0.8,
            label=f"baseline {baseline.objective:.4g}",
            zorder=1,
        )
        ax.scatter(
            [baseline.id],
            [baseline.objective],
            s=max(size * 2.5, 30),
            marker="D",
            c=DECISION_COLORS[Decision.BASELINE],
            zorder=5,
            edgecolors="white",
            linewidths=0.8,
        )

    kept = [e for e in incumbents if e.decision == Decision.KEPT]
    if kept:
        ax.scatter(
            [e.id for e in kept],
            [_y(e) for e in kept],
            s=max(size * 2.5, 30),
            c=DECISION_COLORS[Decision.KEPT],
            edgecolors="white",
            linewidths=0.8,
            label=f"kept ({len(kept)})",
            zorder=5,
        )

    if strip is not None:
        rows = FAILURES
        for row, decision in enumerate(rows):
            ids = [e.id for e in bad if e.decision == decision]
            if ids:
                strip.scatter(
                    ids,
                    [row] * len(ids),
                    marker="x",
                    s=max(size, 12),
                    c=DECISION_COLORS[decision],
                    alpha=max(alpha, 0.5),
                    linewidths=1,
                    label=f"{decision} ({len(ids)})",
                    rasterized=rasterize,
                )
        strip.set_yticks(range(len(rows)), rows, fontsize=8)
        strip.set_ylim(-0.7, len(rows) - 0.3)
        strip.grid(True, axis="x", alpha=0.3)
        strip.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)

    _label_improvements(ax, incumbents, direction, max_labels, experiments[-1].id if n else 0)

    if ylim is not None:
        ax.set_ylim(*ylim)
    if n:
        ax.set_xlim(experiments[0].id - max(1, n * 0.01), experiments[-1].id + max(1, n * 0.01))
    else:
        ax.text(0.5, 0.5, "no experiments yet", transform=ax.transAxes, ha="center", va="center")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right" if direction == "minimize" else "lower right", fontsize=8, framealpha=0.85)
    _place_labels(fig, ax)
    return fig


def _label_improvements(
    ax: plt.Axes, incumbents: Sequence[Experiment], direction: str, max_labels: int, last_id: int
) -> None:
    """Annotate the largest kept improvements (at most MAX_LABELS) with a short rationale."""
    steps = []
    previous: float | None = None
    for e in incumbents:
        assert e.objective is not None
        if previous is not None and e.decision == Decision.KEPT:
            steps.append((abs(e.objective - previous), e))
        previous = e.objective
    chosen = sorted(sorted(steps, key=lambda s: -s[0])[:max_labels], key=lambda s: s[1].id)
    up = sign(direction)  # labels go where the running best came from
    for _, e in chosen:
        label = _short(e.rationale) or f"#{e.id}"
        right = e.id > 0.7 * last_id  # labels near the right edge grow leftwards to stay inside the axes
        ax.annotate(
            f"#{e.id} {label}",
            (e.id, e.objective),
            xytext=(-6 if right else 6, up * 14),
            textcoords="offset points",
            fontsize=7,
            ha="right" if right else "left",
            va="bottom" if up > 0 else "top",
            color="#174ea6",
            arrowprops={"arrowstyle": "-", "color": "#9aa0a6", "linewidth": 0.6},
            zorder=6,
        )


def text_extent(label: Annotation, renderer: Any) -> Bbox:
    """Where a label's text is drawn (without its arrow, which may cross other labels harmlessly)."""
    label.update_positions(renderer)
    return Text.get_window_extent(label, renderer)


def _place_labels(fig: Figure, ax: Axes, tries: int = 24) -> None:
    """Move each label away from the ones already placed (in steps of 11 points) until none overlap,
    and drop a label that finds no free place inside the axes: an unreadable pile helps nobody."""
    labels = [child for child in ax.texts if isinstance(child, Annotation)]
    if not labels:
        return
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = ax.get_window_extent(renderer)
    placed: list[Bbox] = []
    for label in labels:
        x, y = label.xyann
        step = 11 if y >= 0 else -11
        for attempt in range(tries):
            # Alternate above and below the point, further out each time.
            offset = y + step * ((attempt + 1) // 2) * (1 if attempt % 2 == 0 else -1)
            label.xyann = (x, offset)
            label.set_verticalalignment("bottom" if offset >= 0 else "top")
            box = text_extent(label, renderer).expanded(1.05, 1.15)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if inside and not any(box.overlaps(other) for other in placed):
                placed.append(box)
                break
        else:
            label.remove()
