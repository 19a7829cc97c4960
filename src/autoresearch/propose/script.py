"""`script:<command>`: the plug-in point for users' own proposers (the contract: docs/script.md).

The command receives the study as JSON on stdin (goal, direction, mode, search space, files, best,
history, pending: the candidates running now, with their ids) and prints one proposal as JSON on stdout:

    {"params": {"lr": 0.01}, "rationale": "...", "strategy": "..."}                # params mode
    {"edits": "<SEARCH/REPLACE blocks or a diff>", "format": "search_replace", "rationale": "..."}
    {"done": true}     # nothing more to propose: the study ends once the running ones finish
    {"wait": true}     # nothing until a running candidate finishes (its next idea builds on one)

Output that is not such JSON becomes a `rejected` experiment with the reason, and the loop goes on.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from autoresearch.core import safeio
from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal, SearchExhausted, WaitForResults
from autoresearch.execute import diagnose, sandbox
from autoresearch.execute.process import run_piped
from autoresearch.materialise.params import render_command
from autoresearch.propose.base import Context
from autoresearch.spec import Spec
from autoresearch.store.history import History

# A script that prints this (alone) has nothing more to propose.
EXHAUSTED = {"done": True}
# ... or nothing until a running candidate has finished.
WAIT = {"wait": True}


def experiment_summary(experiment: Experiment) -> dict[str, Any]:
    """What a proposer may know about one experiment (never its holdout values)."""
    return {
        "id": experiment.id,
        "parent_id": experiment.parent_id,
        "decision": experiment.decision,
        "reason": experiment.reason,
        "objective": experiment.objective,
        "metrics": experiment.metrics,
        "params": experiment.params,
        "diff": experiment.diff,
        "rationale": experiment.rationale,
        "strategy": experiment.strategy,
        "feedback": (experiment.extra or {}).get("feedback"),  # what the run (or scorer) wrote for proposers
        "series": (experiment.extra or {}).get("series"),  # metric curves: {name: {n, values, min, argmin}}
        **({"objectives": experiment.objectives} if experiment.objectives else {}),  # several: each one's value
    }


def front_summary(spec: Spec, history: History) -> dict[str, Any]:
    """Several objectives: each one's direction and the Pareto front's members (ids, oldest first); {} else."""
    if not spec.metric.objectives or history.front is None:
        return {}
    return {"objectives": dict(spec.metric.objectives), "front": [e.id for e in history.front.members]}


def pending_summary(proposal: Proposal) -> dict[str, Any]:
    """A running candidate: its experiment id, what it builds on, why, and its params or edits."""
    return {
        "id": proposal.experiment_id,
        "parent_id": proposal.parent_id,
        "strategy": proposal.strategy,
        "rationale": proposal.rationale,
        **proposal.to_record(),
    }


def context_payload(context: Context) -> dict[str, Any]:
    spec = context.spec
    return {
        "study": spec.name,
        "goal": spec.goal,
        "direction": spec.study.direction,
        "mode": spec.mode,
        "metric": spec.metric.name,
        "space": {name: p.model_dump(exclude_none=True) for name, p in spec.params.items()},
        "editable": spec.code.editable if spec.code else [],
        "files": context.files,
        "best": experiment_summary(context.best) if context.best else None,
        # What the search policy chose to build on, its ancestors (oldest first) and the task.
        "parent": experiment_summary(context.parent) if context.parent else None,
        "lineage": [e.id for e in context.lineage],
        "task": context.task,
        "note": context.note,
        "history": [experiment_summary(e) for e in context.history],
        "pending": [pending_summary(p) for p in context.pending],
        "stagnation": context.stagnation,
        **front_summary(spec, context.history),
    }


def parse_proposal(text: str) -> Proposal:
    """A Proposal from a script's JSON output; a rejected one with the reason when it is not valid."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        snippet = text.strip()[:200] or "(nothing)"
        return Proposal(rejected_reason=f"proposer output is not JSON ({exc}): {snippet}", proposer_failed=True)
    if data == EXHAUSTED:
        raise SearchExhausted("the script proposer has nothing more to propose")
    if data == WAIT:
        raise WaitForResults
    if not isinstance(data, dict) or ("params" not in data and "edits" not in data):
        return Proposal(
            rejected_reason='proposer output must be a JSON object with "params" or "edits"', proposer_failed=True
        )
    if "params" in data and not isinstance(data["params"], dict):
        return Proposal(rejected_reason='"params" must be a JSON object of name: value', proposer_failed=True)
    edits = data.get("edits")
    if edits is not None and not isinstance(edits, str | dict):
        return Proposal(
            rejected_reason='"edits" must be a string (or an object of path: content)', proposer_failed=True
        )
    edit_format = data.get("format")
    if isinstance(edits, dict):  # whole files given as {path: content}
        edits, edit_format = json.dumps(edits), "whole_json"
    return Proposal(
        params=data.get("params"),
        edits=edits,
        edit_format=edit_format,
        rationale=str(data.get("rationale", "")),
        strategy=data.get("strategy"),
        parent_id=data.get("parent_id") if isinstance(data.get("parent_id"), int) else None,
    )


class ScriptProposer:
    def __init__(self, spec: Spec, command: str, timeout: float = 600.0) -> None:
        self.name = f"script:{command}"
        self.spec = spec
        self.command = command
        self.timeout = timeout
        self.diagnose = diagnose.ProposerDiagnosis()

    def propose(self, context: Context) -> Proposal:
        payload = json.dumps(context_payload(context))
        # The script runs in the experiments' sandbox, in the spec's folder (read-only in code mode),
        # with a folder of its own for state that it keeps between calls (AUTORESEARCH_PROPOSER_DIR).
        state = self.spec.study_dir / "proposer"
        os.close(safeio.open_dir(state, self.spec.root))
        view = sandbox.proposer_view(self.spec, self.spec.root, writable=(state,))
        env = sandbox.proposer_env(self.spec, {"AUTORESEARCH_PROPOSER_DIR": str(state)})
        command = render_command(self.command, {"python": sys.executable})  # {python}: as in [run] command
        done = run_piped(
            command,
            cwd=self.spec.root,
            env=env,
            timeout=self.timeout,
            preexec=sandbox.prefix(self.spec, view),
            stdin=payload,
            max_bytes=self.spec.run.max_log_size,  # a proposer's answer is candidate output too
        )
        if done.timed_out:
            return Proposal(rejected_reason=f"proposer script timed out after {self.timeout:g}s", proposer_failed=True)
        if done.too_long:
            return Proposal(rejected_reason=done.too_long, proposer_failed=True)
        if done.exit_code != 0:
            tail = done.stderr.strip().splitlines()[-1:] or ["(no stderr)"]
            cause = self.diagnose(self.spec, view, command, env, done.stdout + "\n" + done.stderr)
            return Proposal(
                rejected_reason=f"proposer script exited with {done.exit_code}: {tail[0]}{cause}", proposer_failed=True
            )
        proposal = parse_proposal(done.stdout)
        if proposal.rejected_reason is None:
            proposal.rejected_reason = context.check(proposal)
        return proposal

    def observe(self, experiment: Experiment) -> None:
        """The script sees the whole history on each call; nothing to keep here."""
