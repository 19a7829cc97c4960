"""progress.png for tiny and large studies."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Annotation
from PIL import Image

from autoresearch.ui.report.progress_plot import draw_progress, plot_progress, text_extent
from tests.support.synthetic import make_study


@pytest.mark.parametrize("n", [10, 5000])
def test_progress_png_for_small_and_large_studies(tmp_path: Path, n: int) -> None:
    store = make_study(tmp_path / "study", n, seed=4, logs=False)
    out = plot_progress(store.experiments(), "minimize", tmp_path / "progress.png", title=f"{n}")
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size == (1800, 900)
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 50  # points, lines and labels were drawn
    assert out.stat().st_size < 2_000_000  # rasterized layers keep 5,000 points small


def test_progress_png_without_experiments(tmp_path: Path) -> None:
    out = plot_progress([], "maximize", tmp_path / "empty.png")
    assert out.stat().st_size > 1000


def test_progress_labels_are_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt

    store = make_study(tmp_path / "study", 400, seed=5, logs=False)
    experiments = store.experiments()
    kept = sum(e.decision == "kept" for e in experiments)
    seen: list[int] = []
    original = plt.Axes.annotate

    def counting(self: plt.Axes, *args: object, **kwargs: object) -> object:
        seen.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(plt.Axes, "annotate", counting)
    plot_progress(experiments, "minimize", tmp_path / "p.png", max_labels=2)
    assert kept > 2 and len(seen) == 2


@pytest.mark.parametrize(("n", "seed"), [(30, 13), (300, 1)])
def test_progress_png_is_readable(tmp_path: Path, n: int, seed: int) -> None:
    # Kept steps close together: labels must not overlap, ticks are whole experiment numbers, and
    # failures sit in a strip of their own, not on the plot's top edge.
    store = make_study(tmp_path / "study", n, seed=seed, logs=False)
    experiments = store.experiments()
    assert {"failed", "rejected", "kept"} <= {e.decision for e in experiments}
    fig = draw_progress(experiments, "minimize", str(n), max_labels=15)
    try:
        ax, strip = fig.axes[0], fig.axes[1]
        renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
        boxes = [text_extent(t, renderer) for t in ax.texts if isinstance(t, Annotation)]
        assert len(boxes) >= 3
        assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
        bad = {e.id for e in experiments if e.decision in ("failed", "rejected")}
        in_strip = {int(x) for c in strip.collections for x, _ in c.get_offsets()}
        assert in_strip == bad
        in_main = {int(x) for c in ax.collections for x, _ in c.get_offsets()}
        assert not in_main & bad
    finally:
        plt.close(fig)
