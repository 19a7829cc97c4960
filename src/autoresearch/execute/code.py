"""Code mode: each candidate is its parent's commit plus the proposal's edits, run in a reused worktree.

Paths in edits, `editable` and `protected` are relative to the spec's folder (which may be a
subfolder of the repository). Every evaluated candidate is committed and kept reachable under
`refs/autoresearch/<study>/<id>`; the branch `autoresearch/<study>` follows the global best, and
each lineage head a search policy names (a tree's drafts, islands) is `refs/autoresearch/<study>/heads/<name>`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from autoresearch.core.evaluation import Evaluation
from autoresearch.core.experiment import INCUMBENT, Decision, Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.execute import integrity, planted
from autoresearch.execute.command import CommandEvaluator
from autoresearch.execute.diagnose import missing_files
from autoresearch.execute.executor import Executor
from autoresearch.execute.process import read_tail
from autoresearch.materialise.edits import EditError, FileEdit, parse_edits, plan_edits
from autoresearch.materialise.git import GitError, ObjectTampered, ensure_excluded, git
from autoresearch.materialise.globs import matches_any, normalize_path
from autoresearch.materialise.workspace import GitWorkspace
from autoresearch.spec import Spec


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
    """Builds a code candidate's commit from its edits, runs it on a clean checkout of that commit.

    The commit is made before the run, from the parent commit's blobs and the proposal's edits alone:
    whatever the run does to its worktree afterwards (`git add`, rewriting its own source, symlinks)
    never reaches the commit, the study branch, `best` or `apply`.
    """

    def __init__(self, spec: Spec, executor: Executor | None = None) -> None:
        super().__init__(spec, executor)
        assert spec.code is not None
        self.code = spec.code
        self.git, self.prefix = code_workspace(spec)
        ensure_excluded(self.git.root)
        self.commits: dict[int, str] = {}  # experiment id -> commit, for every evaluated candidate
        self.kept_commits: set[str] = set()  # the baseline's and every kept candidate's
        self.reference_commit: str | None = None  # the baseline's: protected files are compared with it
        self._lock = threading.Lock()  # git's ref and index updates are not safe from several threads

    def prime(self, history: Sequence[Experiment]) -> None:
        for experiment in history:
            if experiment.commit_sha:
                self.commits[experiment.id] = experiment.commit_sha
                if experiment.decision in INCUMBENT:
                    self.kept_commits.add(experiment.commit_sha)
                if experiment.decision == Decision.BASELINE:
                    self.reference_commit = experiment.commit_sha
        super().prime(history)

    def _repo_path(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def _parent_commit(self, experiment: Experiment) -> str:
        """The commit EXPERIMENT is built on: its recorded parent's (the loop always records one after
        the baseline); the baseline's commit for the baseline itself."""
        if experiment.parent_id is not None and experiment.parent_id in self.commits:
            return self.commits[experiment.parent_id]
        return self.git.baseline_commit(self.code.include_uncommitted)

    def _commit_of(self, parent: Experiment | None) -> str:
        """PARENT's commit, or the baseline commit when there is no parent yet."""
        if parent is not None:
            sha = self.commits.get(parent.id) or parent.commit_sha
            if sha is not None:
                return sha
        return self.git.baseline_commit(self.code.include_uncommitted)

    # -- validation (repair turns) -----------------------------------------------------------------

    def check(self, proposal: Proposal, parent: Experiment | None = None) -> str | None:
        if proposal.params is not None:
            return "code mode takes edits, not params"
        if proposal.edits is None:
            return "the proposal has no edits"
        return self._check_on(proposal, self._commit_of(parent))

    def _check_on(self, proposal: Proposal, parent: str) -> str | None:
        """Why PROPOSAL's edits do not apply to the commit PARENT, or None."""
        try:
            planned = self._plan(proposal, parent)
        except (EditError, ValueError) as exc:
            return str(getattr(exc, "reason", exc))
        return None if planned else "the edits change nothing"

    def _plan(self, proposal: Proposal, parent: str) -> dict[str, bytes | None]:
        """{repository path: new bytes (None: deleted)} of PROPOSAL's edits on PARENT, read from its blobs.

        Raises EditError when an edit touches a path that is not editable, is protected or `.git*`, is or
        lies under a symbolic link or submodule, or does not apply.
        """
        edits = parse_proposal_edits(proposal)
        names = sorted({self._repo_path(name) for name in (normalize_path(e.path) for e in edits) if name})
        modes = self.git.modes_with_parents(parent, names)  # one look-up for reading and for the link check
        blobs = self.git.blobs(parent, names, modes)

        def read(path: str) -> str | None:
            data = blobs.get(self._repo_path(path))
            if data is None:
                return None
            try:
                return data.decode("utf-8")
            except UnicodeDecodeError:
                raise EditError(f"{path} is not UTF-8 text; it cannot be edited") from None

        planned = plan_edits(edits, read, editable=self.code.editable, protected=self.protected())
        changed = {self._repo_path(path): content for path, content in planned.items()}
        problem = self.git.path_problem(parent, sorted(changed), modes)
        if problem:
            raise EditError(problem)
        return {path: None if content is None else content.encode("utf-8") for path, content in changed.items()}

    def files(self, parent: Experiment | None = None) -> dict[str, str]:
        """The editable files of PARENT (the candidate's starting point), for proposers to read."""
        commit = self._commit_of(parent)
        patterns = [self._repo_path(p) for p in self.code.editable]
        return {
            path.removeprefix(f"{self.prefix}/"): text for path, text in self.git.files_at(commit, patterns).items()
        }

    # -- one candidate -----------------------------------------------------------------------------

    def evaluate(self, experiment: Experiment, proposal: Proposal, slot: int) -> Evaluation:
        with self._lock:
            parent = self._parent_commit(experiment)
        try:
            planned = self._plan(proposal, parent) if proposal.edits is not None else {}
        except (EditError, ValueError) as exc:
            return Evaluation(rejected=str(getattr(exc, "reason", exc)))
        if proposal.edits is not None and not planned:
            return Evaluation(rejected="the edits change nothing")
        with self._lock:
            # The commit exists before anything runs; the run gets a clean checkout of exactly it.
            sha = self._commit(experiment, proposal, parent, planned)
            self.commits[experiment.id] = sha
            if experiment.is_baseline:
                self.reference_commit = sha
            worktree = self.git.checkout(slot, sha)
        self.ran_in[experiment.id] = slot  # the judge may run it again (recheck, holdout) in this slot
        diff = self.git.diff(parent, sha) if sha != parent else ""
        record = {"commit_sha": sha, "diff": diff}
        touched = self._protected_changes(sha)
        if touched:
            reason = f"protected file(s) differ from the study's reference commit: {', '.join(touched)}"
            return Evaluation(rejected=reason, record=record)
        hooks = self._hook_changes(sha)
        if hooks:
            reason = (
                f"the candidate adds or changes {', '.join(hooks)}: a file that changes how Python or pytest runs "
                "(a conftest.py, sitecustomize.py, pytest configuration, or a module named like the standard "
                "library's) would run inside the guards and the holdout, so it is not accepted in a candidate"
            )
            return Evaluation(rejected=reason, record=record)
        root = worktree / self.prefix if self.prefix else worktree
        evaluation = self.run_in(root, experiment, proposal, slot=slot)  # protected files hashed around it
        evaluation.record.update(record)
        flags = integrity.diff_flags(diff, self.spec.metric.name, self.spec.metric.json_file)
        if flags:
            evaluation.extra["flags"] = [*evaluation.extra.get("flags", []), *flags]
        return evaluation

    def _protected_changes(self, sha: str) -> list[str]:
        """Protected paths (spec-relative) whose blobs in SHA differ from the study's reference commit."""
        reference = self.reference_commit or self.git.baseline_commit(self.code.include_uncommitted)
        if sha == reference:
            return []
        patterns = self.protected()
        changed = self.git.changed_paths(reference, sha)
        start = f"{self.prefix}/" if self.prefix else ""
        inside = [path.removeprefix(start) for path in changed if path.startswith(start)]
        return sorted(path for path in inside if matches_any(path, patterns))

    def _hook_changes(self, sha: str) -> list[str]:
        """Hook files and standard-library-named modules SHA adds or changes (run/planted.py), when
        protected commands (command guards, the holdout) will run on its checkout."""
        if self.spec.holdout is None and all(g.command is None for g in self.spec.guard):
            return []
        reference = self.reference_commit or self.git.baseline_commit(self.code.include_uncommitted)
        if sha == reference:
            return []
        changed = set(self.git.changed_paths(reference, sha))
        files = self.git.list_files(sha)
        packages = {str(PurePosixPath(f).parent) if "/" in f else "": True for f in files if f.endswith("__init__.py")}
        return planted.shadowing([f for f in files if f in changed], packages)

    def root_for(self, target: Experiment, for_experiment: Experiment) -> Path:
        """FOR_EXPERIMENT's worktree (`fresh_root` checks TARGET out there); slot 0's when it did not
        run in this process (`autoresearch confirm`)."""
        worktree = self.git.worktrees_dir / str(self.ran_in.get(for_experiment.id, 0))
        return worktree / self.prefix if self.prefix else worktree

    def fresh_root(self, experiment: Experiment, root: Path) -> Path:
        """ROOT's worktree reset and cleaned to exactly EXPERIMENT's commit (see CommandEvaluator)."""
        slot = int(root.relative_to(self.git.worktrees_dir).parts[0])
        sha = self.commits.get(experiment.id) or experiment.commit_sha
        assert sha is not None, f"experiment #{experiment.id} has no commit"
        with self._lock:
            self.git.checkout(slot, sha)
        return root

    def _commit(self, experiment: Experiment, proposal: Proposal, parent: str, planned: dict[str, bytes | None]) -> str:
        if not planned:  # the baseline: its commit is the parent itself
            self.git.set_ref(experiment.id, parent)
            return parent
        # Written before the run, so it claims nothing about the result (that lives in the store).
        message = f"autoresearch candidate #{experiment.id}\n\n{proposal.rationale or '(no rationale)'}\n"
        if proposal.strategy:
            message += f"\nstrategy: {proposal.strategy}\n"
        return self.git.commit_files(parent, planned, message, experiment.id)

    def rebase(self, experiment: Experiment, onto: Experiment) -> Proposal | str:
        """EXPERIMENT's edits (its parent -> its commit), as a diff to re-apply onto ONTO's commit."""
        sha, base = self.commits.get(experiment.id), self.commits.get(experiment.parent_id or -1)
        target = onto.commit_sha or self.commits.get(onto.id)
        if sha is None or base is None or target is None:
            return "its commits are not known"
        diff = self.git.diff(base, sha, relative=self.prefix)  # paths relative to the spec's folder, like edits
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

    def without(self, best: Experiment, change: Experiment, parent: Experiment, variant_id: int) -> Experiment | str:
        """BEST's commit with CHANGE's own commit undone (`git revert`, file by file), committed under
        `refs/autoresearch/<study>/ablation-<best>-<change>`; why not when it does not merge cleanly."""
        shas = [e.commit_sha or self.commits.get(e.id) for e in (best, change, parent)]
        if any(sha is None for sha in shas):
            return "its commits are not known"
        best_sha, change_sha, parent_sha = (sha for sha in shas if sha is not None)
        with self._lock:
            files, conflicts = self.git.revert_onto(change_sha, parent_sha, best_sha)
        if conflicts:
            return (
                f"undoing #{change.id} does not merge cleanly with #{best.id} in {', '.join(conflicts)} "
                "(a later change edited the same lines)"
            )
        start = f"{self.prefix}/" if self.prefix else ""
        outside = [
            path
            for path in files
            if not path.startswith(start)
            or not matches_any(path.removeprefix(start), self.code.editable)
            or matches_any(path.removeprefix(start), self.protected())
        ]
        if outside:
            return f"undoing it would change files that are not editable: {', '.join(outside)}"
        sha = best_sha
        if files:
            message = f"autoresearch ablation: #{best.id} without #{change.id}\n"
            with self._lock:
                sha = self.git.commit_files(best_sha, files, message, f"ablation-{best.id}-{change.id}")
        self.commits[variant_id] = sha
        diff = self.git.diff(best_sha, sha) if sha != best_sha else ""
        return Experiment(
            id=variant_id, status="done", proposal={}, created_at=0.0, commit_sha=sha, diff=diff, extra={}
        )

    def baseline_hint(self, failed: Experiment | None) -> str:
        """Uncommitted files are named only when the failure shows one missing (its name, or its module
        in a `No module named` error): anything else (the sandbox, a bug) is not theirs to explain."""
        if self.code.include_uncommitted or failed is None:
            return ""
        try:
            status = git(
                self.git.root,
                *self.git.no_filters(),  # comparing racily clean files would run the repository's filters
                "status",
                "--porcelain=v1",
                "--no-renames",
                "-z",
                "--untracked-files=all",
                "--",
                self.prefix or ".",
            )
        except GitError:
            return ""
        spec_files = {self._repo_path(name) for name in ("autoresearch.toml", self.spec.study.goal_file or "")}
        paths = [p for p in (e[3:] for e in status.decode("utf-8", "replace").split("\0") if e) if p not in spec_files]
        paths = missing_files(_failure_text(failed, self.log_dir(failed)), paths)
        if not paths:
            return ""
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        return (
            f"not committed: {shown}. Candidates run on your last commit, without them: commit them, or set "
            "include_uncommitted = true under [code] (or run with --include-uncommitted)"
        )

    def close(self) -> None:
        """Worktrees are a cache of checkouts: removed when the study stops, recreated when it resumes."""
        with self._lock:
            self.git.remove_worktrees()
        super().close()

    def keep(self, experiment: Experiment) -> None:
        super().keep(experiment)  # the incumbent's [[stage]] values
        if experiment.commit_sha:
            with self._lock:
                self.kept_commits.add(experiment.commit_sha)
                self.git.move_best(experiment.commit_sha)

    def tampered(self, best: Experiment | None, finished: Sequence[Experiment]) -> str | None:
        with self._lock:
            for experiment in [*finished, *([best] if best else [])]:
                sha = self.commits.get(experiment.id) or experiment.commit_sha
                if sha:
                    try:
                        self.git.verify_commit(sha, only_new=True)  # the rest: when read, and by best / apply
                    except ObjectTampered as exc:
                        return f"#{experiment.id}'s commit {sha[:12]}: {exc}"
            sha = (self.commits.get(best.id) or best.commit_sha) if best else None
            at = self.git.branch_commit()
            if sha and at is not None and at != sha and at in self.kept_commits:
                # A commit the study kept before its best: killed between recording a new best and moving
                # the branch to it. The store is the truth; the branch catches up, and nothing was tampered.
                self.git.move_best(sha)
            elif sha and at is not None and at != sha:
                moved = f"the study branch {self.git.branch} was moved to {at[:12]}, a commit the study did not keep"
                try:
                    self.git.move_best(sha)  # reconciled with the store, which is the truth
                except GitError as exc:
                    return f"{moved}; it could not be put back: {exc}"
                return f"{moved}; it was put back at the best, #{best.id if best else '?'} ({sha[:12]})"
        return None

    def heads(self, heads: dict[str, Experiment]) -> None:
        with self._lock:
            for name, experiment in heads.items():
                sha = experiment.commit_sha or self.commits.get(experiment.id)
                if sha:
                    self.git.set_head(name, sha)


def _failure_text(failed: Experiment, log_dir: Path) -> str:
    """What a failed experiment said: its reason and the tails of its logs (run, guards, scorer)."""
    logs = sorted(log_dir.glob("*.log")) if log_dir.is_dir() else []
    return "\n".join([failed.reason or "", *(read_tail(path, 4000) for path in logs)])
