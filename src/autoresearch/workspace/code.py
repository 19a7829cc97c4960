"""Code mode: each candidate is its parent's commit plus the proposal's edits, in a reused worktree.

Paths in edits, `editable` and `protected` are relative to the spec's folder (which may be a
subfolder of the repository). Every evaluated candidate is committed and kept reachable under
`refs/autoresearch/<study>/<id>`; the branch `autoresearch/<study>` follows the best.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from autoresearch.propose.base import Proposal
from autoresearch.run import integrity
from autoresearch.run.evaluate import CommandEvaluator, Evaluation
from autoresearch.spec import Spec
from autoresearch.store import Experiment
from autoresearch.workspace.edits import EditError, FileEdit, apply_edits, parse_edits, plan_edits
from autoresearch.workspace.git import GitError, GitWorkspace, ensure_excluded, git


class CodeModeError(Exception):
    """Code mode cannot start (not a git repository, ...); the message says what to do."""


def repository_root(path: Path) -> Path:
    try:
        return Path(git(path, "rev-parse", "--show-toplevel").decode().strip())
    except (GitError, FileNotFoundError):
        raise CodeModeError(
            f"code mode needs a git repository, and {path} is not in one; run `git init` and commit your files"
        ) from None


def code_workspace(spec: Spec) -> tuple[GitWorkspace, str]:
    """The study's git workspace, and the spec folder's path inside the repository ('' at the root)."""
    root = repository_root(spec.root)
    prefix = spec.root.resolve().relative_to(root.resolve()).as_posix()
    return GitWorkspace(root, spec.name, spec.study_dir / "worktrees"), "" if prefix == "." else prefix


def parse_proposal_edits(proposal: Proposal) -> list[FileEdit]:
    """The proposal's edits, whatever format it used. Raises EditError naming the problem."""
    if proposal.edits is None:
        return []
    if proposal.edit_format == "whole_json":  # {path: content} from a script or an agent
        return parse_edits(json.loads(proposal.edits))
    return parse_edits(proposal.edits, proposal.edit_format)


class CodeEvaluator(CommandEvaluator):
    """Materialises a code candidate in a git worktree, runs it, checks integrity, commits it."""

    def __init__(self, spec: Spec) -> None:
        super().__init__(spec)
        assert spec.code is not None
        self.code = spec.code
        self.git, self.prefix = code_workspace(spec)
        ensure_excluded(self.git.root)
        self.commits: dict[int, str] = {}  # experiment id -> commit, for every evaluated candidate
        self.objectives: dict[int, float | None] = {}
        self.best_commit: str | None = None
        self.ran_in: dict[int, int] = {}  # experiment id -> the worktree slot it ran in
        self._lock = threading.Lock()  # git's ref and index updates are not safe from several threads

    def prime(self, history: list[Experiment]) -> None:
        for experiment in history:
            if experiment.commit_sha:
                self.commits[experiment.id] = experiment.commit_sha
                self.objectives[experiment.id] = experiment.objective
                if experiment.decision in ("baseline", "kept"):
                    self.best_commit = experiment.commit_sha

    def _repo_path(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _parent_commit(self, experiment: Experiment) -> str:
        if experiment.parent_id is not None and experiment.parent_id in self.commits:
            return self.commits[experiment.parent_id]
        if self.best_commit is not None:
            return self.best_commit
        return self.git.baseline_commit(self.code.include_uncommitted)

    # -- validation (repair turns) -----------------------------------------------------------------

    def check(self, proposal: Proposal) -> str | None:
        if proposal.params is not None:
            return "code mode takes edits, not params"
        if proposal.edits is None:
            return "the proposal has no edits"
        return self._check_on(proposal, self.best_commit or self.git.baseline_commit(self.code.include_uncommitted))

    def _check_on(self, proposal: Proposal, parent: str) -> str | None:
        """Why PROPOSAL's edits do not apply to the commit PARENT, or None."""
        try:
            edits = parse_proposal_edits(proposal)
            files = self.git.files_at(parent, [self._repo_path(e.path) for e in edits])
            planned = plan_edits(
                edits,
                lambda path: files.get(self._repo_path(path)),
                editable=self.code.editable,
                protected=self.code.protected,
            )
        except (EditError, ValueError) as exc:
            return str(getattr(exc, "reason", exc))
        return None if planned else "the edits change nothing"

    def files(self) -> dict[str, str]:
        """The editable files of the current best, for proposers to read."""
        parent = self.best_commit or self.git.baseline_commit(self.code.include_uncommitted)
        patterns = [self._repo_path(p) for p in self.code.editable]
        return {
            path.removeprefix(f"{self.prefix}/"): text for path, text in self.git.files_at(parent, patterns).items()
        }

    # -- one candidate -----------------------------------------------------------------------------

    def evaluate(self, experiment: Experiment, proposal: Proposal, slot: int) -> Evaluation:
        with self._lock:
            parent = self._parent_commit(experiment)
            worktree = self.git.checkout(slot, parent)
        root = worktree / self.prefix if self.prefix else worktree
        try:
            changed = apply_edits(
                root, parse_proposal_edits(proposal), editable=self.code.editable, protected=self.code.protected
            )
        except (EditError, ValueError) as exc:
            return Evaluation(rejected=str(getattr(exc, "reason", exc)))
        if proposal.edits is not None and not changed:
            return Evaluation(rejected="the edits change nothing")
        self.ran_in[experiment.id] = slot  # the judge may run it again (recheck, holdout) in this slot
        evaluation = self.run_in(root, experiment, proposal, slot=slot)  # protected files hashed around it
        with self._lock:
            sha = self._commit(experiment, proposal, worktree, parent, changed, evaluation)
        self.commits[experiment.id] = sha
        self.objectives[experiment.id] = evaluation.objective
        diff = self.git.diff(parent, sha) if sha != parent else ""
        evaluation.record.update(commit_sha=sha, diff=diff)
        flags = integrity.diff_flags(diff, self.spec.metric.name, self.spec.metric.json_file)
        if flags:
            evaluation.extra["flags"] = [*evaluation.extra.get("flags", []), *flags]
        return evaluation

    def root_for(self, target: Experiment, for_experiment: Experiment) -> Path:
        """FOR_EXPERIMENT's worktree, checked out at TARGET's commit unless it is there already."""
        slot = self.ran_in[for_experiment.id]
        sha = self.commits.get(target.id) or target.commit_sha
        assert sha is not None, f"experiment #{target.id} has no commit"
        with self._lock:
            worktree = self.git.worktrees_dir / str(slot)
            if self._head(worktree) != sha:  # keep a just-run candidate's outputs (holdout may read them)
                worktree = self.git.checkout(slot, sha)
        return worktree / self.prefix if self.prefix else worktree

    def _head(self, worktree: Path) -> str | None:
        try:
            return git(worktree, "rev-parse", "HEAD").decode().strip()
        except (GitError, FileNotFoundError, NotADirectoryError):
            return None

    def _commit(
        self,
        experiment: Experiment,
        proposal: Proposal,
        worktree: Path,
        parent: str,
        changed: list[str],
        evaluation: Evaluation,
    ) -> str:
        if not changed:  # the baseline: its commit is the parent itself
            self.git.set_ref(experiment.id, parent)
            return parent
        parent_objective = self.objectives.get(experiment.parent_id) if experiment.parent_id else None
        if evaluation.objective is None:
            result = f"failed: {evaluation.error or evaluation.rejected}"
        elif parent_objective is not None:
            result = (
                f"{self.spec.metric.name} {evaluation.objective:.6g} ({evaluation.objective - parent_objective:+.6g})"
            )
        else:
            result = f"{self.spec.metric.name} {evaluation.objective:.6g}"
        message = f"autoresearch #{experiment.id}: {result}\n\n{proposal.rationale or '(no rationale)'}\n"
        if proposal.strategy:
            message += f"\nstrategy: {proposal.strategy}\n"
        return self.git.commit(worktree, message, [self._repo_path(p) for p in changed], experiment.id)

    def rebase(self, experiment: Experiment, onto: Experiment) -> Proposal | str:
        """EXPERIMENT's edits (its parent -> its commit), as a diff to re-apply onto ONTO's commit."""
        sha, base = self.commits.get(experiment.id), self.commits.get(experiment.parent_id or -1)
        target = onto.commit_sha or self.commits.get(onto.id)
        if sha is None or base is None or target is None:
            return "its commits are not known"
        relative = [f"--relative={self.prefix}"] if self.prefix else []
        # Paths relative to the spec's folder, like every proposal's edits.
        diff = git(
            self.git.root, "diff", "--no-color", "--no-ext-diff", "--no-renames", *relative, base, sha, "--"
        ).decode("utf-8", "replace")
        if not diff.strip():
            return "it changes nothing"
        proposal = Proposal(
            edits=diff,
            edit_format="diff",
            rationale=f"the edits of #{experiment.id} re-applied onto #{onto.id}: {experiment.rationale or ''}".strip(),
            strategy="rebase",
            parent_id=onto.id,
        )
        return self._check_on(proposal, target) or proposal

    def keep(self, experiment: Experiment) -> None:
        if experiment.commit_sha:
            self.best_commit = experiment.commit_sha
            with self._lock:
                self.git.move_best(experiment.commit_sha)
