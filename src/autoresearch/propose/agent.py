"""`agent:<command>`: an external coding agent (claude -p, codex exec, aider --message, ...) proposes.

The agent runs in a worktree of its own at the current best, with a prompt built from the goal and the
history; what it changed in editable files becomes the proposal (as whole files, read without git or
links). New files outside them (caches, build outputs) are left out; changes to tracked files that are
not editable make the proposal `rejected`. The prompt is appended to the command as its last argument, or
replaces `{prompt}` / `{prompt_file}` when the command has them.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from autoresearch.core import safeio
from autoresearch.core.experiment import FAILURES, Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.execute import diagnose, sandbox
from autoresearch.execute.code import code_workspace
from autoresearch.execute.process import run_piped
from autoresearch.materialise.checkout import read_file
from autoresearch.materialise.edits import is_git_path
from autoresearch.materialise.git import GitError, git
from autoresearch.materialise.globs import matches_any
from autoresearch.materialise.params import render_command
from autoresearch.propose.base import Context
from autoresearch.propose.materials import MATERIALS_DIR, write_agent_materials
from autoresearch.propose.prompt import HistoryLimits, format_parent
from autoresearch.propose.script import experiment_summary
from autoresearch.spec import Spec

AGENT_SLOT = 1000  # the agent's own worktree, apart from the experiment workers' slots
_HISTORY_ITEMS = 15


def agent_prompt(context: Context, materials: str | None = None) -> str:
    spec = context.spec
    assert spec.code is not None
    best = context.best
    lines = [
        "You are improving a system in an automated research loop. Each of your changes is measured, and "
        "kept only if it is better.",
        "",
        "## Goal",
        spec.goal.strip() or f"{spec.study.direction} the metric {spec.metric.name}.",
        "",
        f"Metric: {spec.metric.name} ({spec.study.direction}). Current best: {best.objective if best else 'unknown'}.",
        f"You may edit only: {', '.join(spec.code.editable)}.",
        f"Never change: {', '.join(spec.code.protected) or '(nothing listed)'}; changes there are rejected.",
        "Make one focused change, do not run long experiments yourself, and end your reply with a line",
        "`RATIONALE: <one sentence on what you changed and why>`.",
        "",
        "## Recent experiments (newest last)",
    ]
    for e in context.history[-_HISTORY_ITEMS:]:
        summary = experiment_summary(e)
        lines.append(
            f"- #{summary['id']} {summary['decision']} objective={summary['objective']}: "
            f"{(summary['rationale'] or '')[:160]}"
            + (f" [{(summary['reason'] or '')[:120]}]" if e.decision in FAILURES else "")
            + (f" feedback: {' | '.join(summary['feedback'].splitlines())[:160]}" if summary["feedback"] else "")
        )
    if materials is not None:
        lines += [
            "",
            "## Materials (read them before you change anything; they are not part of your change)",
            f"- `{materials}/runs.md`: feedback, metric curves, the end of the logs (and, when profiled, where",
            "  the time goes) of the version in your worktree (the parent), and the same for the most recent failures.",
            f"- `{materials}/history.json`: the study's experiments (the best, the most recent and failed ones) with",
            "  their objective, metrics, decision and why, rationale, diff, feedback and metric curves.",
        ]
    lines += [
        "",
        "## The version in your worktree",
        format_parent(context.parent, context.lineage, context.task, context.note, "code", HistoryLimits()),
    ]
    if context.pending:
        lines.append("")
        lines.append("## Being evaluated right now (do not repeat them)")
        for p in context.pending:
            lines.append(f"- #{p.experiment_id} [{p.strategy or '-'}] {(p.rationale or '(no rationale)')[:160]}")
    return "\n".join(lines) + "\n"


class AgentProposer:
    slow = True  # agents take minutes: propose the next candidate while an experiment runs

    def __init__(self, spec: Spec, command: str, timeout: float | None = None) -> None:
        assert spec.code is not None, "agent proposers work in code mode"
        self.name = f"agent:{command}"
        self.spec = spec
        self.command = command
        self.timeout = float(timeout or spec.proposer.options.get("timeout", 1800))
        self.git, self.prefix = code_workspace(spec)
        self.folder = spec.study_dir / "agent"
        self.diagnose = diagnose.ProposerDiagnosis()

    def propose(self, context: Context) -> Proposal:
        # The policy's parent (the best, a draft's baseline, a failed node to debug), never a guess.
        parent = context.parent.commit_sha if context.parent and context.parent.commit_sha else self.git.head()
        worktree = self.git.checkout(AGENT_SLOT, parent)
        root = worktree / self.prefix if self.prefix else worktree
        # Written after the checkout (which removes what the last agent left) and never proposed (_edits).
        write_agent_materials(context, root, worktree)
        prompt = agent_prompt(context, MATERIALS_DIR)
        prompt_file = safeio.write_text(self.folder / "prompt.md", prompt, self.spec.root)
        command = render_command(self.command, {"prompt": prompt, "prompt_file": str(prompt_file)})
        if command == self.command:
            command = f"{self.command} {shlex.quote(prompt)}"
        # The agent is adversarial like any candidate: the experiments' sandbox, its own worktree as the
        # only writable folder, the allowlisted environment. Its API key and network come from
        # [proposer] options (pass_env, network, writable), never by default.
        view = sandbox.proposer_view(self.spec, worktree, writable=(), readable=(prompt_file,))
        env = sandbox.proposer_env(self.spec, {})
        done = run_piped(
            command,
            cwd=root,
            env=env,
            timeout=self.timeout,
            preexec=sandbox.prefix(self.spec, view),
            max_bytes=self.spec.run.max_log_size,  # a proposer's answer is candidate output too
        )
        if done.timed_out:
            return Proposal(
                rejected_reason=f"the agent did not finish within {self.timeout:g}s",
                extra=self._io(prompt),
                proposer_failed=True,
            )
        if done.too_long:
            return Proposal(rejected_reason=done.too_long, extra=self._io(prompt))
        extra = self._io(prompt, done.stdout, done.stderr)
        if done.exit_code != 0:
            tail = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            cause = self.diagnose(self.spec, view, self.command, env, done.stdout + "\n" + done.stderr)
            return Proposal(
                rejected_reason=f"the agent exited with {done.exit_code}: {tail}{cause}",
                extra=extra,
                proposer_failed=True,
            )
        files, reason = self._edits(worktree, parent)
        if reason is not None:
            return Proposal(rejected_reason=reason, extra=extra)
        return Proposal(
            edits=json.dumps(files),
            edit_format="whole_json",
            rationale=_rationale(done.stdout),
            strategy="agent",
            extra=extra,
        )

    def _edits(self, worktree: Path, parent: str) -> tuple[dict[str, str], str | None]:
        """The agent's changes to editable files as {spec-relative path: content}, or why there are none.

        Read from the worktree as content, never through a link and without git (whose config and
        attributes the agent could have planted). New files that are not editable, caches and ignored
        files are build artefacts and left out; a change to a tracked file that is not editable, a
        deletion, a link or a special file rejects the proposal.
        """
        assert self.spec.code is not None
        editable = self.spec.code.editable
        protected = [*self.spec.code.protected, *self.spec.integrity.protected]
        start = f"{self.prefix}/" if self.prefix else ""
        changed = self.git.worktree_changes(AGENT_SLOT, parent)
        wanted: dict[str, str] = {}
        refused: list[str] = []
        for path, kind in sorted(changed.items()):
            rel = path.removeprefix(start) if path.startswith(start) else None
            if rel is not None and (rel + "/").startswith(MATERIALS_DIR + "/"):
                continue  # autoresearch's own files for the agent, whatever the editable globs say
            ok = rel is not None and not is_git_path(rel) and matches_any(rel, editable)
            ok = ok and not matches_any(rel or "", protected)
            if kind == "added" and (not ok or _is_cache(path)):
                continue
            if not ok:
                refused.append(path)
            else:
                assert rel is not None
                wanted[rel] = kind
        if refused:
            return {}, f"the agent changed files that are not editable: {', '.join(refused)}"
        added = [start + rel for rel, kind in wanted.items() if kind == "added"]
        for path in self._ignored(worktree, added):
            del wanted[path.removeprefix(start)]
        if not wanted:
            return {}, "the agent changed nothing"
        odd = {"deleted": "deleted", "link": "made a symbolic link of", "other": "made a special file of"}
        for rel, kind in wanted.items():
            if kind in odd:
                return {}, f"the agent {odd[kind]} {rel}; only changes to file contents can be proposed"
        files: dict[str, str] = {}
        for rel in wanted:
            data = read_file(worktree, start + rel)
            try:
                files[rel] = (data or b"").decode("utf-8")
            except UnicodeDecodeError:
                return {}, f"the agent wrote {rel}, which is not UTF-8 text; only text files can be edited"
        return files, None

    def _ignored(self, worktree: Path, paths: list[str]) -> list[str]:
        """Those of PATHS (new files) that the repository's ignore rules ignore: build outputs."""
        if not paths:
            return []
        request = "".join(f"{path}\0" for path in paths).encode()
        try:
            out = git(
                worktree,  # the explicit --git-dir: the worktree's own `.git` file is not consulted
                f"--git-dir={self.git.common_dir}",
                f"--work-tree={worktree}",
                "check-ignore",
                "--no-index",
                "-z",
                "--stdin",
                input=request,
                env={"GIT_LITERAL_PATHSPECS": "0"},  # check-ignore refuses pathspec magic; these are file names
            )
        except GitError:  # exit status 1: none is ignored
            return []
        return [name for name in out.decode("utf-8", "surrogateescape").split("\0") if name]

    def _io(self, prompt: str, stdout: str = "", stderr: str = "") -> dict[str, object]:
        return {"prompt": prompt, "response": stdout[-20000:], "agent_stderr": stderr[-4000:]}

    def observe(self, experiment: Experiment) -> None:
        """The prompt is rebuilt from the full history each time."""


def _is_cache(path: str) -> bool:
    return "__pycache__" in path.split("/") or path.endswith((".pyc", ".pyo"))


def _rationale(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.upper().startswith("RATIONALE:"):
            return line.split(":", 1)[1].strip()[:300]
    return (lines[-1] if lines else "agent change")[:300]
