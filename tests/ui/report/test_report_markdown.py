"""report.md: every candidate-written text shows as text (no tag, link, image or bare link renders)."""

from __future__ import annotations

from pathlib import Path

import pytest

from autoresearch.ui.report.markdown import render_markdown
from autoresearch.ui.report.summary import summarize_spec
from tests.redteam.round2.rendering import acting_markdown
from tests.support.synthetic import make_study
from tests.ui.conftest import make_spec

PAYLOAD = "<script>alert(1)</script> <img src=x onerror=alert(1)> [x](http://evil.example/) www.evil.example"


@pytest.mark.parametrize("mode", ["params", "code"])
def test_candidate_text_renders_as_text(tmp_path: Path, mode: str) -> None:
    spec = make_spec(tmp_path, mode=mode)
    store = make_study(spec.study_dir, 12, mode=mode, seed=3, logs=False)
    try:
        for e in store.experiments()[1:]:
            extra = (e.extra or {}) | {"feedback": "```\n" + PAYLOAD + "\n````\n" + PAYLOAD}
            store.update(
                e.id,
                rationale=PAYLOAD,
                strategy="`" + PAYLOAD,
                reason=PAYLOAD if e.decision != "kept" else e.reason,
                extra=extra,
                diff=(e.diff or "") + "\n+````\n+" + PAYLOAD if mode == "code" else e.diff,
            )
        summary = summarize_spec(spec, store.experiments())
    finally:
        store.close()
    assert summary.chain and summary.rows
    markdown = render_markdown(summary, progress_png="progress.png", lessons=PAYLOAD + "\n# heading\n```")
    assert markdown.count("evil.example") >= 10  # the payload is shown, as text
    assert acting_markdown(markdown, ("progress.png",)) is None
    assert acting_markdown(PAYLOAD) is not None  # the check can fail
