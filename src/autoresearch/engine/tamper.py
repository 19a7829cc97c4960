"""Tamper records: what a run did to the study's own state, and why `best` and `apply` then refuse.

Under sandbox kind "none" a run can write anything its user can: the store, the repository's objects,
the study branch. autoresearch cannot prevent that; it detects it. The loop records each detection in
the store (`record`), `status` shows it, and `best` / `apply` refuse to show or write a result from a
study whose record was tampered with, unless the user accepts it knowingly (`--accept-tamper`).

A detection is recorded by whoever owns the store at the time (the running loop); `best`, `apply` and
`status` only read it, and re-check the git side themselves (`live_problems`), since a run may have
moved the branch or rewritten an object after the loop stopped watching.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.spec import Spec
    from autoresearch.store.database import Store

TAMPER_META = "tampered"  # the store's meta key: a JSON list of {"at": time, "what": text}


def record(store: Store, what: str) -> None:
    """Add a tamper detection to the store's record (kept for good: a later clean run does not erase it)."""
    entries = recorded(store)
    if any(entry.get("what") == what for entry in entries):
        return  # the same finding again (a resume stopping on the same rewritten object)
    entries.append({"at": time.time(), "what": what})
    store.set_meta(TAMPER_META, json.dumps(entries))


def recorded(store: Store) -> list[dict[str, object]]:
    """Every tamper detection recorded in the store, oldest first."""
    text = store.get_meta(TAMPER_META)
    if not text:
        return []
    try:
        entries = json.loads(text)
    except ValueError:  # the record itself was mangled: that is a tamper too
        return [{"at": 0.0, "what": f"the tamper record was rewritten: {text[:80]!r}"}]
    return entries if isinstance(entries, list) else [{"at": 0.0, "what": "the tamper record was rewritten"}]


def branch_problem(spec: Spec, best: Experiment | None) -> str | None:
    """Code mode: why the study branch does not point at the best's measured commit, or None."""
    if spec.code is None or best is None or not best.commit_sha:
        return None
    # Here, not at the top: `status` and `best` of a params study never load git or the evaluators.
    from autoresearch.execute.code import code_workspace
    from autoresearch.materialise.git import GitError

    workspace = code_workspace(spec)[0]
    try:
        at = workspace.branch_commit()
    except GitError as exc:
        return str(exc)
    if at is not None and at != best.commit_sha:
        return (
            f"the study branch {workspace.branch} points at {at[:12]}, a commit the store did not keep "
            f"(the best, #{best.id}, is {best.commit_sha[:12]})"
        )
    return None


def objects_problem(spec: Spec, experiments: list[Experiment]) -> str | None:
    """Code mode: the first rewritten git object among EXPERIMENTS' commits, or None."""
    if spec.code is None:
        return None
    from autoresearch.execute.code import code_workspace  # code mode only, as above
    from autoresearch.materialise.git import ObjectTampered

    workspace = code_workspace(spec)[0]
    for experiment in experiments:
        if experiment.commit_sha:
            try:
                workspace.verify_commit(experiment.commit_sha)
            except ObjectTampered as exc:
                return f"#{experiment.id}'s commit {experiment.commit_sha[:12]}: {exc}"
    return None


def live_problems(spec: Spec, store: Store, best: Experiment | None, used: list[Experiment | None]) -> list[str]:
    """Recorded tampers, plus what is wrong now: the study branch moved away from BEST's commit, an
    object of a commit among USED (what the command shows or writes, and the baseline) rewritten."""
    problems = [str(entry.get("what", entry)) for entry in recorded(store)]
    for problem in (branch_problem(spec, best), objects_problem(spec, [e for e in used if e is not None])):
        if problem:
            problems.append(problem)
    return problems


def refusal(command: str, problems: list[str]) -> str:
    """The one line `best` / `apply` stop with."""
    shown = problems[0] + (f" (and {len(problems) - 1} more: autoresearch status)" if len(problems) > 1 else "")
    return (
        f"not {command}: the study's record was tampered with: {shown}. What it would use may not be what "
        'was measured: measure again in a new study with sandbox.kind = "bwrap" (another [study] name), or '
        "pass --accept-tamper to use it anyway"
    )
