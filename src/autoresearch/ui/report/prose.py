"""The note's prose: written by a template from the facts, or by an LLM and checked against the store.

An LLM gets the facts (and the template's drafts) and returns one paragraph per section. A section is
used only when every number in it is one the store holds (NumberBook); otherwise, or when the call
fails, that section falls back to the template, and the note says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from autoresearch.core.experiment import Decision
from autoresearch.engine.ablation import rule_label
from autoresearch.llm.base import LLMError
from autoresearch.ui.report.facts import Facts, ablation_rows, chain_rows, interval, results_rows, setup_items, threats
from autoresearch.ui.report.markdown import fmt
from autoresearch.ui.report.numbers import NumberBook

if TYPE_CHECKING:
    from autoresearch.llm.base import ChatBackend

SECTIONS = ("abstract", "results", "ablation", "threats")


def _pct(fraction: float) -> str:
    return f"{100 * fraction:+.1f}%"


def _ids(ids: list[int]) -> str:
    return ", ".join(f"#{i}" for i in ids)


def _sure(facts: Facts, ids: list[int]) -> str:
    """'#3 (+98.0% (95% CI +97.1% to +98.9%), 4 pairs)': how sure each verdict is, never the word alone."""
    shown = []
    for i in ids:
        a = facts.ablation_of(i)
        if a is None or a.record.get("effect") is None:
            shown.append(f"#{i}")
            continue
        low, high = a.record.get("low"), a.record.get("high")
        unsure = low is None or high is None or low <= 0 <= high  # the rule's verdict, not the interval's
        caveat = "; by the rule only, its interval does not exclude noise" if unsure else ""
        shown.append(f"#{i} ({interval(a.record)}{caveat})")
    return ", ".join(shown)


def template(facts: Facts) -> dict[str, str]:
    return {
        "abstract": _abstract(facts),
        "results": _results(facts),
        "ablation": _ablation(facts),
        "threats": "The points below are what the study's own record says limits these conclusions.",
    }


def _abstract(facts: Facts) -> str:
    s, spec = facts.summary, facts.spec
    opening = (
        f"Study `{spec.name}` ran {s.total} experiments in {spec.mode} mode, proposed by `{spec.proposer.use}`, "
        f"to {spec.study.direction} `{facts.metric}`."
    )
    if s.baseline is None or s.best is None:
        return opening + " It has no measured baseline, so there is nothing to compare."
    if s.best_id == s.baseline_id:
        return opening + f" No candidate beat the baseline (#{s.baseline_id}, {fmt(s.baseline)})."
    text = (
        opening
        + f" The best, #{s.best_id}, reached {fmt(s.best)} against the baseline's {fmt(s.baseline)}"
        + (f", {s.improvement_pct:.1f}% better as selected by the search" if s.improvement_pct is not None else "")
        + "."
    )
    c = facts.confirmation
    if c is not None:
        text += (
            f" Re-measured against the baseline on {c.pairs} interleaved pairs, the improvement is "
            f"{_pct(c.improvement)} (95% CI {_pct(c.low)} to {_pct(c.high)})."
        )
    carriers = _by_outcome(facts).get("carrier", [])
    if facts.ablations:
        text += f" Of the {len(facts.changes)} kept changes the best is built from, " + (
            f"{len(carriers)} {'carries' if len(carriers) == 1 else 'carry'} the gain ({_sure(facts, carriers)})."
            if carriers
            else "none carries the gain measurably."
        )
    return text


def _results(facts: Facts) -> str:
    s = facts.summary
    parts = [f"{k} {d}" for d, k in s.counts.items() if k and d != Decision.BASELINE]
    listed = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else "".join(parts)
    text = f"Of the {s.total} experiments: " + (listed if parts else "none was tried besides the baseline") + "."
    if s.strict_line:
        text += f" Noise: {s.strict_line}."
    if len(s.chain) > 1:
        text += f" The kept chain has {len(s.chain)} steps, from #{s.chain[0].id} to #{s.chain[-1].id}."
    if s.param_importances:
        top = next(iter(s.param_importances))
        text += f" The parameter that mattered most ({s.importance_method}) was `{top}`."
    return text


def _by_outcome(facts: Facts) -> dict[str, list[int]]:
    by: dict[str, list[int]] = {}
    for a in facts.ablations:
        by.setdefault(a.outcome or "", []).append(a.change_id)
    return by


def _ablation(facts: Facts) -> str:
    if not facts.changes:
        return "There is no kept change to ablate: the best is the baseline."
    if not facts.ablations:
        if facts.ablation_skipped:
            return "The ablation was skipped (`--no-ablation`) and none is stored for this best."
        return "No ablation is stored for this best."
    by = _by_outcome(facts)
    text = (
        f"Each of the {len(facts.changes)} kept changes of the best's lineage was undone on its own, and the best "
        f"was measured against that variant by the study's rule (`{rule_label(facts.spec)}`); a positive figure "
        "in the table means the best is better with the change than without it."
    )
    words = {
        "carrier": "Carry the gain",
        "passenger": "Passengers, whose removal the rule cannot tell from noise",
        "harmful": "Harmful, the best is better without them",
        "superseded": "Superseded by later changes, nothing of them is left",
        "conflict": "Not measured because undoing them does not merge cleanly with later changes",
        "failed": "Not measured because a run failed",
    }
    for outcome, label in words.items():
        if by.get(outcome):  # a verdict in words comes with its figure, interval and pairs
            ids = _sure(facts, by[outcome]) if outcome in ("carrier", "harmful") else _ids(by[outcome])
            text += f" {label}: {ids}."
    return text


# -- an LLM's prose ---------------------------------------------------------------------------------

_SYSTEM = (
    "You write the prose of a short research note about an automated optimisation study. You get the study's "
    "facts as JSON and a draft of each section. Return a JSON object with the keys abstract, results, ablation "
    "and threats, each one paragraph of plain prose (no headings, no lists). Be precise and sober: say what the "
    "evidence supports and what it does not. State only numbers that appear in the facts or the drafts, written "
    "exactly as they appear there; never compute, round or invent a number. Refer to experiments as #<id>."
)


_ABLATION_KEYS = ("change", "what", "outcome", "effect", "measured")
_CHAIN_KEYS = ("id", "decision", "objective", "delta", "strategy", "rationale")


def facts_document(facts: Facts) -> dict[str, Any]:
    """The facts an LLM writes from: the note's own tables, as text."""
    return {
        "question": facts.question[:4000],
        "setup": setup_items(facts),
        "results": {k: v for k, v in results_rows(facts)},
        "ablation": [dict(zip(_ABLATION_KEYS, r, strict=True)) for r in ablation_rows(facts)],
        "kept_chain": [dict(zip(_CHAIN_KEYS, r, strict=True)) for r in chain_rows(facts)[-30:]],
        "threats": threats(facts),
    }


def _parse(text: str) -> dict[str, Any]:
    text = text.strip()
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.DOTALL)
    if fenced:
        text = fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the reply holds no JSON object")
    value = json.loads(text[start : end + 1])
    if not isinstance(value, dict):
        raise ValueError("the reply is not a JSON object")
    return value


@dataclass
class Prose:
    sections: dict[str, str]
    by_llm: list[str] = field(default_factory=list)  # the sections whose LLM text passed the check
    rejected: dict[str, list[str]] = field(default_factory=dict)  # section -> its numbers not in the store
    error: str | None = None  # why the LLM gave nothing usable

    def note(self, llm: str) -> str:
        """What the note says about its prose, without repeating a rejected number."""
        text = f"Prose of {', '.join(self.by_llm) or 'no section'} written by `{llm}` from the store's facts"
        if self.error:
            text += f"; the LLM call failed ({self.error}), so the template wrote the rest"
        if self.rejected:
            text += (
                f"; its text for {', '.join(sorted(self.rejected))} stated numbers that are not in the store, "
                "so the template's text is shown there"
            )
        return f"*{text}.*"


def write_prose(facts: Facts, book: NumberBook, backend: ChatBackend | None) -> Prose:
    """Each section's prose: the LLM's where every number in it is in BOOK, else the template's."""
    drafts = template(facts)
    if backend is None:
        return Prose(drafts)
    schema = {
        "type": "object",
        "properties": {key: {"type": "string"} for key in SECTIONS},
        "required": list(SECTIONS),
        "additionalProperties": False,
    }
    messages: list[Any] = [
        {"role": "system", "content": _SYSTEM},
        {
            "role": "user",
            "content": "FACTS:\n"
            + json.dumps(facts_document(facts), indent=1, ensure_ascii=False)
            + "\n\nDRAFTS:\n"
            + json.dumps(drafts, indent=1, ensure_ascii=False),
        },
    ]
    try:
        reply = backend.chat(messages, temperature=0.2, max_tokens=1500, json_schema=schema)
        written = _parse(reply.text)
    except (LLMError, ValueError) as exc:
        return Prose(drafts, error=" ".join(str(exc).split())[:200])
    prose = Prose(dict(drafts))
    for key in SECTIONS:
        text = written.get(key)
        if not isinstance(text, str) or not text.strip():
            continue
        text = " ".join(text.split())
        unknown = book.unknown(text, quotes_too=True)
        if unknown:
            prose.rejected[key] = unknown
        else:
            prose.sections[key] = text
            prose.by_llm.append(key)
    return prose
