"""Specs written for an earlier version, read in today's form (with a note saying how to write it)."""

from __future__ import annotations

import json
from typing import Any


def upgrade_hybrid_policy(data: Any) -> tuple[Any, str]:
    """DATA (a spec as written, or a recorded snapshot) with `[search] policy = "hybrid"`, how the hybrid
    proposer was written before it was one, in the new form, and a note saying so ('' when unchanged):
    `[proposer] use = "llm:X"` with `[search.hybrid] sampler = "S"` is `use = "hybrid:S+llm:X"`, and the
    rest of [search.hybrid] is [proposer.hybrid]; the policy is greedy's, as it was."""
    search = data.get("search") if isinstance(data, dict) else None
    if not isinstance(search, dict) or ("hybrid" not in search and search.get("policy") != "hybrid"):
        return data, ""
    search = dict(search)
    section = search.pop("hybrid", None)
    section = dict(section) if isinstance(section, dict) else {}
    if search.get("policy") != "hybrid":
        return {**data, "search": search}, '[search.hybrid] is ignored: the search policy is not "hybrid"; remove it'
    proposer = dict(data.get("proposer") or {})
    use, sampler = str(proposer.get("use", "tpe")), str(section.pop("sampler", "tpe"))
    new_form = f'[proposer] use = "hybrid:{sampler}+{use if use.startswith("llm:") else "llm:<provider>/<model>"}"'
    if not use.startswith("llm:"):
        raise ValueError(
            f'search policy "hybrid" needs an LLM in [proposer] use (e.g. "llm:local"), not {use!r}; '
            f"the hybrid is a proposer now: write {new_form}"
        )
    if "hybrid" in proposer:
        raise ValueError("[search.hybrid] and [proposer.hybrid] are one thing written twice: keep [proposer.hybrid]")
    proposer |= {"use": f"hybrid:{sampler}+{use}", "hybrid": section}
    search["policy"] = "greedy"
    moved = (
        f" and [proposer.hybrid] {', '.join(f'{k} = {json.dumps(v)}' for k, v in section.items())}" if section else ""
    )
    note = f'[search] policy = "hybrid" is a proposer now: this spec runs as {new_form}{moved}; write it so'
    return {**data, "proposer": proposer, "search": search}, note
