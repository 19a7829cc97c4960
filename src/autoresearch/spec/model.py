"""The whole study spec: its sections together, the checks that span several of them, and what is
derived from it (the mode, the study's name and folder, the goal).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    model_validator,
)

from autoresearch.core import plugins
from autoresearch.core.space import ParamSpec
from autoresearch.spec.changes import SpecSnapshot
from autoresearch.spec.run_section import RunSection
from autoresearch.spec.sections import (
    BudgetSection,
    CodeSection,
    GuardSection,
    HoldoutSection,
    IntegritySection,
    MetricSection,
    NoiseSection,
    ProfileSection,
    ProposerSection,
    PruneSection,
    SandboxSection,
    ScorerSection,
    SearchSection,
    StageSection,
    StudySection,
)
from autoresearch.spec.upgrades import upgrade_hybrid_policy


def _sandbox_shorthand(value: Any) -> Any:
    """`sandbox = "bwrap"` is short for `[sandbox] kind = "bwrap"`."""
    return {"kind": value} if isinstance(value, str) else value


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    study: StudySection = StudySection()
    run: RunSection
    metric: MetricSection
    params: dict[str, ParamSpec] = {}
    code: CodeSection | None = None
    guard: list[GuardSection] = []
    stage: list[StageSection] = []
    # A factory, not an instance: checking `use` loads the proposer kinds, whose modules import this one.
    proposer: ProposerSection = Field(default_factory=ProposerSection)
    budget: BudgetSection = BudgetSection()
    search: SearchSection = SearchSection()
    noise: NoiseSection = NoiseSection()
    holdout: HoldoutSection | None = None
    scorer: ScorerSection | None = None
    profile: ProfileSection | None = None
    integrity: IntegritySection = IntegritySection()
    sandbox: Annotated[SandboxSection, BeforeValidator(_sandbox_shorthand)] = SandboxSection()
    prune: PruneSection | None = None  # early stopping of losing runs (execute/prune.py)

    # Where the spec was read from; set by load_spec, not by the user.
    root: Path = Field(default=Path("."), exclude=True)
    # The spec as written (before command-line overrides such as --experiments), for change detection
    # on resume; None for a spec built in code (autoresearch.optimize).
    _source: SpecSnapshot | None = PrivateAttr(default=None)
    _notes: list[str] = PrivateAttr(default_factory=list)  # an old spelling read as the new one

    @model_validator(mode="wrap")
    @classmethod
    def _hybrid_policy(cls, data: Any, handler: ModelWrapValidatorHandler[Spec]) -> Spec:
        data, note = upgrade_hybrid_policy(data)
        spec = handler(data)
        if note:
            spec._notes.append(note)
        return spec

    @model_validator(mode="wrap")
    @classmethod
    def _first_objectives_direction(cls, data: Any, handler: ModelWrapValidatorHandler[Spec]) -> Spec:
        """With several objectives, study.direction (which readers of one number use) is the first one's."""
        study, metric = (data.get(k) if isinstance(data, dict) else None for k in ("study", "metric"))
        if isinstance(study, dict) and "direction" in study and isinstance(metric, dict) and "objectives" in metric:
            raise ValueError(
                "study.direction does not apply with metric.objectives: each objective has its own direction "
                "there; remove study.direction"
            )
        spec = handler(data)
        if not spec.metric.objectives or spec.study.direction == spec.metric.directions[0]:
            return spec
        study = spec.study.model_copy(update={"direction": spec.metric.directions[0]})
        return spec.model_copy(update={"study": study})

    @model_validator(mode="before")
    @classmethod
    def _reject_root(cls, data: Any) -> Any:
        if isinstance(data, dict) and "root" in data and not isinstance(data["root"], Path):
            raise ValueError("'root' is not a spec key")
        return data

    @model_validator(mode="after")
    def _mode(self) -> Spec:
        if not self.params and self.code is None:
            raise ValueError(
                "nothing to search: add a [params] search space (params mode) "
                "or a [code] section with editable files (code mode)"
            )
        if self.noise.rule == "significant" and self.run.repeats < 2 and self.noise.baseline_repeats < 2:
            raise ValueError(
                'noise.rule = "significant" needs a noise estimate: set run.repeats >= 2 (each candidate is '
                "measured several times) or noise.baseline_repeats >= 2 (the baseline's spread is used)"
            )
        return self

    @model_validator(mode="after")
    def _stages(self) -> Spec:
        names = [stage.name for stage in self.stage]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"[[stage]] names must differ: {', '.join(twice)} is used twice; rename one")
        gated = [stage.name for stage in self.stage if stage.has_threshold]
        if gated and self.scorer is not None:
            # A stage's value is what the candidate printed; with a [scorer] that is not trusted, and a kept
            # candidate that lied at a stage would set a bar no later candidate can meet.
            raise ValueError(
                f"stage {gated[0]!r}: max_worse/max_worse_abs compare what the candidate printed, which a study "
                "with a [scorer] does not trust; remove the threshold (the stage then only has to succeed)"
            )
        return self

    @model_validator(mode="after")
    def _proposer(self) -> Spec:
        _, kind, argument = plugins.proposer_kind(self.proposer.use)
        if kind.check is not None:  # e.g. the LLM's provider is registered; the hybrid serves params mode
            try:
                kind.check(self, argument)
            except ValueError as exc:
                raise ValueError(f"[proposer] use = {self.proposer.use!r}: {exc}") from None
        return self

    @model_validator(mode="after")
    def _prune_metric(self) -> Spec:
        # The watcher reads the experiment's own `name: value` lines; a metric a scorer prints, or one read
        # from JSON or by a regex, is not such a curve.
        read_elsewhere = self.metric.json_file or self.metric.pattern or self.scorer
        if self.prune is not None and self.prune.metric is None and read_elsewhere:
            raise ValueError(
                "prune.metric: the study's metric is not the experiment's `name: value` lines; set prune.metric = "
                '"<a metric the experiment prints once per step>"'
            )
        return self

    @model_validator(mode="after")
    def _several_objectives(self) -> Spec:
        """Settings that compare one number with the incumbent's have no meaning against a Pareto front."""
        if not self.metric.objectives:
            return self
        front = "but a study with several objectives keeps a Pareto front, not one incumbent"
        if self.noise.rule != "strict":
            raise ValueError(
                f'noise.rule = "{self.noise.rule}" compares a candidate with one incumbent, {front}; '
                "remove it (a candidate is kept when no member of the front dominates it)"
            )
        for key in ("recheck_best", "confirm"):
            if getattr(self.noise, key):
                raise ValueError(f"noise.{key} re-measures a candidate against one incumbent, {front}; remove it")
        if self.budget.target is not None:
            raise ValueError(
                "budget.target stops the study when the objective reaches one value, but a study with several "
                "objectives keeps a Pareto front; remove it (budget.patience stops when the front stops changing)"
            )
        if self.prune is not None:
            raise ValueError(f"[prune] ranks runs by one metric's curve, {front}; remove [prune]")
        gated = next((stage.name for stage in self.stage if stage.has_threshold), None)
        if gated is not None:
            raise ValueError(
                f"stage {gated!r}: max_worse/max_worse_abs compare with the incumbent's value, {front}; "
                "remove the threshold "
                "(the stage then only has to succeed)"
            )
        if self.holdout is not None and self.holdout.max_worsening is not None:
            raise ValueError(
                f"holdout.max_worsening compares with the best's holdout value, {front}; "
                "remove it (the holdout must still pass)"
            )
        if self.search.policy != "greedy":
            raise ValueError(
                f'search.policy = "{self.search.policy}" picks incumbents by one objective, {front}; '
                'use search.policy = "greedy" (the default)'
            )
        return self

    @model_validator(mode="after")
    def _scorer(self) -> Spec:
        if self.scorer is not None and self.metric.json_file is not None:
            raise ValueError(
                "metric.json cannot be combined with [scorer]: the scorer prints the metric "
                "(`name: value` lines, or metric.pattern); drop metric.json"
            )
        return self

    @property
    def source(self) -> SpecSnapshot | None:
        return self._source

    @property
    def notes(self) -> list[str]:
        """What to say once when the study runs: an old spelling this spec was read in."""
        return list(self._notes)

    @property
    def mode(self) -> Literal["params", "code"]:
        return "code" if self.code is not None else "params"

    @property
    def name(self) -> str:
        return self.study.name or _slug(self.root.resolve().name)

    @property
    def goal(self) -> str:
        if self.study.goal_file:
            return (self.root / self.study.goal_file).read_text()
        return self.study.goal

    @property
    def study_dir(self) -> Path:
        return self.root / ".autoresearch" / self.name


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug or "study"
