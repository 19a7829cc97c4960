"""`hybrid` (params mode): greedy's chain, with candidates from a sampler and an LLM together.

Where each candidate starts and what it must beat are greedy's. Who proposes it is the hybrid
proposer's business (propose/hybrid.py), which `make_proposer` builds for this policy: an Optuna
sampler proposes, the LLM named in [proposer] use takes [search.hybrid] llm_share of the candidates,
seeing the sampler's state, and its points are told to the sampler. The split lives in the proposer
and not in `Choice.proposer` because an LLM turn that fails falls back to the sampler within the
same candidate.
"""

from __future__ import annotations

from autoresearch.search.greedy import GreedyPolicy


class HybridPolicy(GreedyPolicy):
    name = "hybrid"
