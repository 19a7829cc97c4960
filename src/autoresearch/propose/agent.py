"""`agent:<command>`: an external coding agent (claude -p, codex exec, aider --message, ...) proposes.

The agent runs in a worktree of its own at the current best, with a prompt built from the goal and the
history; whatever it changed becomes the proposal (as whole files). Changes outside the editable
files make the proposal `rejected`. The prompt is appended to the command as its last argument, or
replaces `{prompt}` / `{prompt_file}` when the command has them.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess

from autoresearch.propose.base import Context, Proposal
from autoresearch.propose.script import experiment_summary
from autoresearch.spec import Spec
from autoresearch.store import Experiment
from autoresearch.workspace.globs import matches_any
from autoresearch.workspace.params import render_command

AGENT_SLOT = 1000  # the agent's own worktree, apart from the experiment workers' slots
_HISTORY_ITEMS = 15


def agent_prompt(context: Context) -> str:
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
            + (f" [{(summary['reason'] or '')[:120]}]" if e.decision in ("failed", "rejected") else "")
        )
    if context.pending:
        lines.append(f"({len(context.pending)} other candidate(s) are being evaluated right now.)")
    return "\n".join(lines) + "\n"


class AgentProposer:
    slow = True  # agents take minutes: propose the next candidate while an experiment runs

    def __init__(self, spec: Spec, command: str, timeout: float | None = None) -> None:
        from autoresearch.workspace.code import code_workspace

        assert spec.code is not None, "agent proposers work in code mode"
        self.name = f"agent:{command}"
        self.spec = spec
        self.command = command
        self.timeout = float(timeout or spec.proposer.options.get("timeout", 1800))
        self.git, self.prefix = code_workspace(spec)
        self.folder = spec.study_dir / "agent"

    def propose(self, context: Context) -> Proposal:
        from autoresearch.workspace.git import git

        parent = context.best.commit_sha if context.best and context.best.commit_sha else self.git.head()
        worktree = self.git.checkout(AGENT_SLOT, parent)
        root = worktree / self.prefix if self.prefix else worktree
        prompt = agent_prompt(context)
        self.folder.mkdir(parents=True, exist_ok=True)
        prompt_file = self.folder / "prompt.md"
        prompt_file.write_text(prompt)
        command = render_command(self.command, {"prompt": prompt, "prompt_file": str(prompt_file)})
        if command == self.command:
            command = f"{self.command} {shlex.quote(prompt)}"
        # The agent is the user's own tool: it gets their environment (its API key included).
        try:
            done = subprocess.run(
                command,
                shell=True,
                cwd=root,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return Proposal(
                rejected_reason=f"the agent did not finish within {self.timeout:g}s", extra=self._io(prompt)
            )
        extra = self._io(prompt, done.stdout, done.stderr)
        if done.returncode != 0:
            tail = (done.stderr.strip().splitlines() or ["(no stderr)"])[-1]
            return Proposal(rejected_reason=f"the agent exited with {done.returncode}: {tail}", extra=extra)
        status = git(worktree, "status", "--porcelain", "-z", "--untracked-files=all").decode()
        changed = [entry[3:] for entry in status.split("\0") if len(entry) > 3]
        if self.prefix:
            outside = [p for p in changed if not p.startswith(self.prefix + "/")]
            changed = [p.removeprefix(self.prefix + "/") for p in changed if p.startswith(self.prefix + "/")]
        else:
            outside = []
        outside += [p for p in changed if not matches_any(p, self.spec.code.editable if self.spec.code else [])]
        if outside:
            return Proposal(
                rejected_reason=f"the agent changed files that are not editable: {', '.join(sorted(outside))}",
                extra=extra,
            )
        if not changed:
            return Proposal(rejected_reason="the agent changed nothing", extra=extra)
        deleted = [p for p in changed if not (root / p).is_file()]
        if deleted:
            return Proposal(
                rejected_reason=f"the agent deleted {', '.join(deleted)}; only edits are supported", extra=extra
            )
        files = {p: (root / p).read_text() for p in changed}
        return Proposal(
            edits=json.dumps(files),
            edit_format="whole_json",
            rationale=_rationale(done.stdout),
            strategy="agent",
            extra=extra,
        )

    def _io(self, prompt: str, stdout: str = "", stderr: str = "") -> dict[str, object]:
        return {"prompt": prompt, "response": stdout[-20000:], "agent_stderr": stderr[-4000:]}

    def observe(self, experiment: Experiment) -> None:
        """The prompt is rebuilt from the full history each time."""


def _rationale(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.upper().startswith("RATIONALE:"):
            return line.split(":", 1)[1].strip()[:300]
    return (lines[-1] if lines else "agent change")[:300]
