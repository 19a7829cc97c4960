"""`islands`: several populations searched side by side ([search.islands]), as in OpenEvolve and ShinkaEvolve.

- `count` islands, each with its own members and its own incumbent: a candidate is built on a member of
  its island and must beat that island's best to be `kept` (it becomes the global best only when it
  also beats that). Islands take turns, so parallel workers draw from different islands.
- Every `migration_interval` decided experiments, the top `migration_share` of each island (at least its
  best) is copied to the next island (a ring): good ideas spread, yet islands stay apart in between.
- Parent sampling (ShinkaEvolve's weighted rule): a member of score s with c children is drawn with
  weight sigmoid(λ·(s − median) / MAD) / (1 + c), over the island's members (or, with `features`, over
  the elites of its MAP-Elites cells). It prefers the good without starving the rest, and the 1 + c
  term moves on from parents already tried often. We chose it over OpenEvolve's fixed 70/20/10
  exploit/explore/elite split because it has one parameter and no threshold between "elite" and not.
- MAP-Elites (optional): `features` names metrics the experiment (or scorer) prints, or `code_size`
  (characters of the editable files); each is cut into `bins` equal bins over the range seen in the
  island, and only the best member of each cell (its elite) may be a parent: diverse stepping stones.
- Novelty rejection (optional, on by default): a candidate whose code (its editable files after the
  edits; in params mode its parameters) has a cosine similarity above `novelty_threshold` to a member
  of its island is rejected before it runs (search/novelty.py: MiniLM when installed, else token
  shingles). Its vector is recorded with the row, so that a resumed study compares exactly the same.

State: members, incumbents, cells, vectors and migrations are replayed from decided experiments (the
island of each is in its row); the turn counter and the random generator are saved with each row.
"""

from __future__ import annotations

import base64
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from autoresearch.core.choice import Choice
from autoresearch.core.experiment import Decision
from autoresearch.execute.code import parse_proposal_edits
from autoresearch.materialise.edits import EditError, plan_edits
from autoresearch.search.archive import Archive, search_record
from autoresearch.search.novelty import NoveltyArchive, make_embedder
from autoresearch.search.policy import SearchPolicy

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.core.proposal import Proposal
    from autoresearch.propose.base import Context
    from autoresearch.spec import Spec

NEAR_DUPLICATE = "near-duplicate of #"  # how a novelty rejection's reason starts (search/novelty.py)
CODE_SIZE = "code_size"  # the built-in feature: characters of the candidate's editable files
PARENT_SIZE = "parent_code_size"  # recorded with a child when its parent has none (the baseline)


def files_text(files: Mapping[str, str | None]) -> str:
    """Editable files as one text, in path order: what is embedded and measured (code_size)."""
    return "".join(f"# {path}\n{text}\n" for path, text in sorted(files.items()) if text is not None)


def candidate_text(proposal: Proposal, files: Mapping[str, str], spec: Spec) -> str | None:
    """What a candidate is, as text: its parameters, or its editable files after the edits on FILES
    (its parent's); None when its edits do not apply (the loop rejects it for that anyway)."""
    if proposal.params is not None:
        return json.dumps(proposal.params, sort_keys=True, default=str)
    if proposal.edits is None or spec.code is None:
        return None
    try:
        changed = plan_edits(parse_proposal_edits(proposal), files.get, editable=spec.code.editable, protected=[])
    except (EditError, ValueError):
        return None
    return files_text({**files, **changed})


def encode_vector(vector: np.ndarray) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")


def decode_vector(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype="<f4")


class IslandsPolicy(SearchPolicy):
    name = "islands"

    def __init__(self, spec: Spec, archive: Archive) -> None:
        super().__init__(spec, archive)
        self.options = spec.search.islands
        n = self.options.count
        self.members: list[list[Experiment]] = [[] for _ in range(n)]  # measured members, by island
        self.best: list[Experiment | None] = [None] * n  # each island's incumbent
        self.decided = 0  # decided experiments since the baseline: migration counts them
        self.migrations = 0
        self.turn = 0  # choices made: islands take turns (saved state)
        self.streak = [0] * n  # novelty rejections in a row, by island
        self.sizes: dict[int, int] = {}  # code_size by experiment (the baseline's from its first child)
        self.novelty: NoveltyArchive | None = None
        if self.options.novelty:
            self.novelty = NoveltyArchive(make_embedder(self.options.embedder), self.options.novelty_threshold)

    # -- derived state: rebuilt by replaying decided experiments ---------------------------------------

    def observe(self, experiment: Experiment) -> None:
        record = search_record(experiment)
        if experiment.is_baseline:
            if experiment.ok:
                for island in range(self.options.count):  # the baseline seeds every island
                    self._join(island, experiment)
            return
        tag = record.get("island")
        # A row from before this policy (an accepted spec change) belongs to the first island.
        island = tag if isinstance(tag, int) and 0 <= tag < self.options.count else 0
        self.decided += 1
        if experiment.ok and experiment.objective is not None:
            self._join(island, experiment)
        for key, value in ((experiment.id, record.get(CODE_SIZE)), (experiment.parent_id, record.get(PARENT_SIZE))):
            if key is not None and isinstance(value, int):
                self.sizes.setdefault(key, value)
        if experiment.decision == Decision.REJECTED and (experiment.reason or "").startswith(NEAR_DUPLICATE):
            self.streak[island] += 1
        elif "novelty" in record:
            self.streak[island] = 0
        vectors = record.get("novelty")
        if (
            self.novelty is not None
            and isinstance(vectors, dict)
            and vectors.get("embedder") == self.novelty.embedder.name
        ):
            if experiment.parent_id is not None:  # the parent's, when it had none (the baseline)
                self._parent_joins(island, experiment.parent_id, vectors.get("parent"))
            if experiment.decision != Decision.REJECTED:  # a near-duplicate is not a new member
                self.novelty.add_vector(island, experiment.id, decode_vector(vectors["vector"]))
        if self.decided % self.options.migration_interval == 0:
            self._migrate()

    def _parent_joins(self, island: int, parent: int, encoded: object) -> np.ndarray | None:
        """The parent's vector joins ISLAND's group (from ENCODED when it has none yet)."""
        assert self.novelty is not None
        vector = self.novelty.vector(parent)
        if vector is None and isinstance(encoded, str):
            vector = decode_vector(encoded)
        if vector is not None:
            self.novelty.add_vector(island, parent, vector)
        return vector

    def _join(self, island: int, experiment: Experiment) -> None:
        members = self.members[island]
        if any(m.id == experiment.id for m in members):
            return
        members.append(experiment)
        best = self.best[island]
        if best is None or experiment.score(self.archive.direction) < best.score(self.archive.direction):
            self.best[island] = experiment
        if len(members) > self.options.archive_size:  # bounded: drop the worst that is no cell's elite
            elites = self._elites(island) if self.options.features else [self.best[island]]
            keep = {m.id for m in elites if m is not None} | {members[-1].id}
            worst = max((m for m in members if m.id not in keep), key=self._score, default=None)
            if worst is not None:
                members.remove(worst)

    def _migrate(self) -> None:
        """Copy each island's top share to the next island (a ring), from a snapshot of all islands."""
        self.migrations += 1
        n = self.options.count
        if n < 2:
            return
        moving = []
        for island in range(n):
            ranked = sorted(self.members[island], key=lambda e: (self._score(e), e.id))
            top = max(1, math.ceil(self.options.migration_share * len(ranked))) if ranked else 0
            moving.append(ranked[:top])
        for island, migrants in enumerate(moving):
            target = (island + 1) % n
            for experiment in migrants:
                self._join(target, experiment)
                if self.novelty is not None:
                    self.novelty.copy(island, target, experiment.id)

    def _score(self, experiment: Experiment) -> float:
        return experiment.score(self.archive.direction)  # lower is better

    # -- MAP-Elites cells ------------------------------------------------------------------------------

    def feature(self, experiment: Experiment, name: str) -> float | None:
        if name == CODE_SIZE:
            size = self.sizes.get(experiment.id)
            return None if size is None else float(size)
        value = experiment.metrics.get(name)
        return float(value) if isinstance(value, int | float) and math.isfinite(value) else None

    def cell(self, experiment: Experiment, ranges: dict[str, tuple[float, float]]) -> tuple[int, ...]:
        bins = self.options.bins
        where = []
        for name in self.options.features:
            value = self.feature(experiment, name)
            low, high = ranges.get(name, (0.0, 0.0))
            if value is None:
                where.append(-1)  # not reported: a cell of its own
            elif high <= low:
                where.append(0)
            else:
                where.append(min(bins - 1, int((value - low) / (high - low) * bins)))
        return tuple(where)

    def _elites(self, island: int) -> list[Experiment]:
        """The best member of each occupied cell (every member when no features are configured)."""
        members = self.members[island]
        if not self.options.features:
            return list(members)
        ranges = {}
        for name in self.options.features:
            values = [v for v in (self.feature(m, name) for m in members) if v is not None]
            ranges[name] = (min(values), max(values)) if values else (0.0, 0.0)
        elites: dict[tuple[int, ...], Experiment] = {}
        for member in members:
            key = self.cell(member, ranges)
            if key not in elites or (self._score(member), member.id) < (self._score(elites[key]), elites[key].id):
                elites[key] = member
        return [elites[key] for key in sorted(elites)]

    def cells(self, island: int) -> int:
        return len(self._elites(island))

    # -- choosing --------------------------------------------------------------------------------------

    def weights(self, pool: Sequence[Experiment]) -> list[float]:
        """ShinkaEvolve's weighted sampling: sigmoid(λ·(s − median)/MAD) / (1 + children); s higher is better."""
        scores = [-self._score(e) for e in pool]
        median = statistics.median(scores)
        mad = statistics.median(abs(s - median) for s in scores) or 1e-12
        weights = []
        for experiment, s in zip(pool, scores, strict=True):
            z = max(-60.0, min(60.0, self.options.parent_lambda * (s - median) / mad))
            weights.append(1 / (1 + math.exp(-z)) / (1 + self.archive.children(experiment.id)))
        return weights

    def choose(self, pending: Sequence[Experiment]) -> Choice:
        island = self.turn % self.options.count
        self.turn += 1
        pool = self._elites(island)
        if not pool:
            return Choice(parent=self.archive.best, tags={"island": island})
        running = {e.parent_id for e in pending}
        free = [e for e in pool if e.id not in running] or pool  # parallel workers: different parents
        parent = self.rng.choices(free, weights=self.weights(free))[0]
        return Choice(parent=parent, tags={"island": island})

    def admit(self, proposal: Proposal, choice: Choice, context: Context) -> str | None:
        """Record the candidate's vector (and code size); reject it when its island has a near-duplicate."""
        if self.novelty is None and CODE_SIZE not in self.options.features:
            return None
        parent = choice.parent
        if parent is not None and proposal.parent_id != parent.id:
            return None  # the proposer chose another parent: CONTEXT's files are not what it edits
        text = candidate_text(proposal, context.files, self.spec)
        if text is None:
            return None
        search = proposal.extra.setdefault("search", {})
        if proposal.edits is not None:
            search[CODE_SIZE] = len(text)
            if parent is not None and parent.id not in self.sizes and context.files:
                search[PARENT_SIZE] = self.sizes[parent.id] = len(files_text(context.files))
        if self.novelty is None:
            return None
        embedder = self.novelty.embedder
        vector = embedder.embed(text)
        record: dict[str, object] = {"embedder": embedder.name, "vector": encode_vector(vector)}
        island = int(choice.tags.get("island", 0))
        if parent is not None:
            # The parent is compared too (a copy of it is no candidate). One with no recorded vector
            # (the baseline) is embedded now and recorded with this row, so that a resume replays it.
            encoded = None
            if self.novelty.vector(parent.id) is None:
                parent_text = (
                    json.dumps(parent.params, sort_keys=True, default=str)
                    if proposal.params is not None
                    else files_text(context.files)
                )
                encoded = record["parent"] = encode_vector(embedder.embed(parent_text))
            self._parent_joins(island, parent.id, encoded)
        search["novelty"] = record
        why = self.novelty.reject_vector(island, vector)
        if why and self.streak[island] >= self.options.novelty_attempts:
            record["forced"] = True  # the proposer keeps repeating itself: run one rather than stall
            return None
        return why

    def incumbent(self, experiment: Experiment) -> Experiment | None:
        """The best of the candidate's island: each island climbs on its own."""
        tag = search_record(experiment).get("island")
        best = self.best[tag] if isinstance(tag, int) and 0 <= tag < self.options.count else None
        return best or self.archive.best

    # -- lineages and state ---------------------------------------------------------------------------

    def heads(self) -> dict[str, Experiment]:
        return {f"island-{i}": best for i, best in enumerate(self.best) if best is not None}

    def state(self) -> dict[str, Any]:
        return super().state() | {"turn": self.turn}

    def restore(self, state: dict[str, Any]) -> None:
        super().restore(state)
        self.turn = int(state.get("turn", 0))
