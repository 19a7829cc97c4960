"""`autoresearch writeup`: a research note of a study, with an ablation of its kept changes.

The note states the question (the goal file), the setup, the results (with the confirmed improvement
and its interval when measured), the progress figure, the ablation, the kept chain, what was tried and
failed (by strategy), and the threats to validity. Its tables and bullets come from the store; its prose
comes from a template, or from an LLM whose every number must be found among the store's values
(report/prose.py); what it states is gathered in report/facts.py. `write_note` writes what the store
holds; the measuring (ablation, confirmation) is done before, by `measure_for_note`, through the study's
evaluator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autoresearch.core.experiment import Decision
from autoresearch.engine import ablation as ablation_mod
from autoresearch.engine import paired
from autoresearch.spec import Spec
from autoresearch.store.database import Store
from autoresearch.ui.report import note as n
from autoresearch.ui.report.facts import (
    Facts,
    ablation_rows,
    chain_rows,
    gather,
    number_book,
    results_rows,
    setup_items,
    threats,
    tried_blocks,
)
from autoresearch.ui.report.prose import Prose, write_prose

if TYPE_CHECKING:
    from autoresearch.execute.evaluate import Evaluator
    from autoresearch.llm.base import ChatBackend


def measure_for_note(
    spec: Spec,
    store: Store,
    evaluator: Evaluator,
    *,
    on_start: Callable[[str], None] | None = None,
) -> list[str]:
    """Confirm the best against the baseline if no confirmation of it is stored, then ablate each kept
    change (reusing stored results); returns what could not be measured, in words."""
    problems: list[str] = []
    facts = gather(spec, store)
    if facts.best is not None and facts.best.decision == Decision.KEPT and facts.confirmation is None:
        if on_start:
            on_start(f"confirming #{facts.best.id} against the baseline on interleaved pairs")
        result = paired.confirm(spec, store, evaluator)
        if isinstance(result, str):
            problems.append(f"the confirmation: {result}")
    ablation_mod.ablate(
        spec, store, evaluator, on_start=(lambda c: on_start(f"ablating #{c.id}")) if on_start else None
    )
    return problems


# -- the note ---------------------------------------------------------------------------------------


def build(
    facts: Facts, prose: dict[str, str], prose_note: str, figure: str | None, lineage: str | None = None
) -> list[n.Block]:
    blocks: list[n.Block] = [n.paragraph(prose["abstract"])]
    blocks += [n.heading("Question")]
    blocks.append(n.quote(facts.question) if facts.question else n.paragraph("The study states no goal."))
    blocks += [n.heading("Setup"), n.bullets(setup_items(facts))]
    blocks += [n.heading("Results"), n.table(["", ""], results_rows(facts))]
    if figure:
        blocks.append(n.figure(figure, f"Every experiment's {facts.metric} and the running best."))
    if lineage:
        blocks.append(n.figure(lineage, "Which experiment each was built on, coloured by decision."))
    blocks.append(n.paragraph(prose["results"]))
    blocks.append(n.heading("Ablation"))
    blocks.append(n.paragraph(prose["ablation"]))
    if facts.changes:
        blocks.append(
            n.table(["change", "what it changed", "outcome", "best vs without it", "measured"], ablation_rows(facts))
        )
    blocks += [n.heading("Kept chain")]
    blocks.append(n.table(["#", "decision", facts.metric, "change", "strategy", "rationale"], chain_rows(facts)))
    blocks += [n.heading("What was tried and failed"), *tried_blocks(facts)]
    blocks += [n.heading("Threats to validity"), n.paragraph(prose["threats"]), n.bullets(threats(facts))]
    if prose_note:
        blocks.append(n.paragraph(prose_note))
    return blocks


@dataclass
class Written:
    markdown: Path
    latex: Path | None
    prose: Prose


def write_note(
    spec: Spec,
    store: Store,
    out_dir: Path,
    *,
    latex: bool = False,
    backend: ChatBackend | None = None,
    ablation_skipped: bool = False,
) -> Written:
    """Write note.md (and note.tex) with progress.png into OUT_DIR, from what the store holds."""
    # The figures' modules load matplotlib: only when a note is written, not with `measure_for_note`.
    from autoresearch.ui.report.progress_plot import plot_progress

    out_dir.mkdir(parents=True, exist_ok=True)
    facts = gather(spec, store, ablation_skipped=ablation_skipped)
    book = number_book(facts, store)
    figure = None
    if facts.experiments:
        plot_progress(
            facts.experiments,
            spec.study.direction,
            out_dir / "progress.png",
            title=spec.name,
            metric_label=spec.metric.name,
        )
        figure = "progress.png"
    lineage = None
    if facts.experiments and spec.search.policy != "greedy":  # a single chain needs no tree drawn
        from autoresearch.ui.report.lineage import plot_lineage  # matplotlib and plotly, as above

        plot_lineage(facts.experiments, out_dir / "lineage.png", title=f"{spec.name}: lineage")
        lineage = "lineage.png"
    prose = write_prose(facts, book, backend)
    prose_note = prose.note(backend.name) if backend is not None else ""
    title = f"{spec.name}: research note"
    blocks = build(facts, prose.sections, prose_note, figure, lineage)
    markdown = out_dir / "note.md"
    markdown.write_text(n.to_markdown(title, blocks))
    tex = None
    if latex:
        tex = out_dir / "note.tex"
        tex.write_text(n.to_latex(title, blocks))
    return Written(markdown, tex, prose)
