"""`Study`: open an existing study and query it (the Python face of status/log/show/best/apply)."""

from __future__ import annotations

import math
from pathlib import Path

from autoresearch.core.direction import score
from autoresearch.core.experiment import Experiment, decided_order
from autoresearch.materialise.params import params_text, write_params_file
from autoresearch.spec import Spec, load_spec
from autoresearch.store.database import Store
from autoresearch.store.history import FrontFigures, History


class ApplyError(Exception):
    """`apply` refused, having changed nothing; the message says why and what to do."""


class Study:
    def __init__(self, spec: Spec, store: Store) -> None:
        self.spec = spec
        self.store = store

    @classmethod
    def open(cls, path: Path | str = ".") -> Study:
        """The study whose spec is at PATH; fails clearly if it has never run."""
        spec = load_spec(path)
        return cls(spec, Store(spec.study_dir, create=False))

    @property
    def name(self) -> str:
        return self.spec.name

    def experiments(self) -> list[Experiment]:
        return self.store.experiments()

    @property
    def baseline(self) -> Experiment | None:
        return self.store.baseline()

    @property
    def best(self) -> Experiment | None:
        """The incumbent: the latest baseline or kept experiment (what the study branch points to).

        Each kept candidate beat the incumbent of its time, so this is also the best-scoring one, except
        under `rule = "paired"`, where a candidate is kept on interleaved pairs and its own first
        measurement (its objective) may have fallen in a slower phase than its predecessor's.
        """
        incumbent = self.store.incumbent()
        if incumbent is None or not math.isfinite(score(incumbent.objective, self.spec.study.direction)):
            return None
        return incumbent

    def front(self) -> FrontFigures | None:
        """Several objectives: the Pareto front now (members in the order they joined), its reference point
        and hypervolume; None with one objective. The front is rebuilt from the store in the order the
        experiments were decided, as the judge grew it."""
        if not self.spec.metric.objectives:
            return None
        done = sorted(
            (e for e in self.experiments() if e.status == "done"), key=lambda e: decided_order(e.finished_at, e.id)
        )
        return History(self.spec.study.direction, done, objectives=self.spec.metric.objectives).front_figures()

    def diff_from_baseline(self, experiment: Experiment) -> str:
        """Code mode: the experiment's code against the baseline's."""
        # Here, not at the top: `status`, `log` and `best` of a params study never load git or the evaluators.
        from autoresearch.execute.code import code_workspace

        baseline = self.baseline
        if baseline is None or experiment.commit_sha is None or baseline.commit_sha is None:
            return experiment.diff or ""
        return code_workspace(self.spec)[0].diff(baseline.commit_sha, experiment.commit_sha)

    def apply(self, experiment: Experiment, *, params_file: Path | None = None, force: bool = False) -> str:
        """Bring EXPERIMENT into the user's working tree (only ever on request).

        Never overwrites work of the user's own: a params file is replaced only when it holds what an
        earlier `apply` wrote (some experiment's parameters, byte for byte), and code only when the files
        it touches are committed (see GitWorkspace.apply_to_user_checkout).
        """
        if experiment.status != "done":
            raise ApplyError(f"experiment {experiment.id} has not finished; nothing to apply")
        if experiment.params is not None:
            target = params_file or self.spec.root / f"best_{Path(self.spec.run.params_file).name}"
            if target.is_file() and not force and not self._written_by_apply(target):
                raise ApplyError(
                    f"not applying: {target} was changed since autoresearch wrote it (it holds no experiment's "
                    "parameters); move it away, pass --params-file OTHER, or --force to overwrite it"
                )
            write_params_file(target, experiment.params)
            return f"wrote parameters to {target}"
        from autoresearch.execute.code import code_workspace  # code mode only, as above
        from autoresearch.materialise.git import AlreadyApplied, GitError

        baseline = self.baseline
        if experiment.commit_sha is None or baseline is None or baseline.commit_sha is None:
            raise ApplyError(f"experiment {experiment.id} has no code to apply ({experiment.reason or 'it never ran'})")
        assert self.spec.code is not None
        workspace, prefix = code_workspace(self.spec)
        start = f"{prefix}/" if prefix else ""
        try:
            # Only what the study allowed candidates to change is written, whatever the commit holds.
            changed = workspace.apply_to_user_checkout(
                experiment.commit_sha,
                baseline.commit_sha,
                editable=[start + pattern for pattern in self.spec.code.editable],
                protected=[start + pattern for pattern in [*self.spec.code.protected, *self.spec.integrity.protected]],
            )
        except AlreadyApplied as done:
            return f"already applied: your working tree holds its {', '.join(done.paths)}; nothing to do"
        except GitError as exc:
            raise ApplyError(str(exc)) from None
        return f"changed {', '.join(changed) or 'nothing'}"

    def _written_by_apply(self, target: Path) -> bool:
        text = target.read_text(errors="replace")
        return any(e.params is not None and params_text(target, e.params) == text for e in self.experiments())
