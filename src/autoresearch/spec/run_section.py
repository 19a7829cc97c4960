"""`[run]`: how an experiment is started and where it runs (its command, timeout, repeats, workers, GPU
shares, executor), with `[run.resources]` for Ray and `[run.slurm]` for Slurm."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from autoresearch.core import plugins
from autoresearch.spec.sections import Duration, Section, Size


class ResourcesSection(Section):
    """What one experiment asks a Ray cluster for (`run.executor = "ray"`), like a Ray Tune trial."""

    cpus: float = Field(default=1.0, ge=0)
    gpus: float = Field(default=0.0, ge=0)
    memory: Size | None = None
    custom: dict[str, float] = Field(default_factory=dict)


class SlurmSection(Section):
    """How each job is asked of a Slurm cluster (`run.executor = "slurm"`, docs/parallel.md)."""

    partition: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.,-]+$")
    time: Duration | None = None  # Slurm's limit per job (default: run.timeout + kill_grace + 1 minute)
    gres: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_:,.()-]+$")  # "gpu:1", "gpu:a100:2"
    cpus: int | None = Field(default=None, ge=1, le=4096)  # --cpus-per-task (default: cpus_per_experiment or 1)
    memory: Size | None = None  # --mem
    account: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    qos: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+$")
    # more options, each an #SBATCH line: ["--constraint=a100", "--exclusive"]
    extra: list[str] = Field(default_factory=list)
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
    env: dict[str, str] = Field(default_factory=dict)
    pass_env: list[str] = Field(default_factory=list)
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
