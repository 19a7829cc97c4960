"""A proposer that keeps failing the same way stops the study, like a failed baseline.

A proposer *fails* when it produced no proposal at all: its command was not found, crashed, timed out,
or printed something that is not a proposal (`Proposal.proposer_failed`). That is not a candidate the
search learns from, so such rows use no `[budget] experiments`; and since nothing will change by
asking again, the same failure three times in a row (or any ten failures in a row, so that a proposer
failing differently each time cannot spin forever) ends the run with one line naming the proposer,
the error and the fix. The rows stay in the store, and `run` resumes once the proposer is fixed.

A proposal the proposer did make but that is invalid (edits that do not apply, parameters outside the
space, an LLM answer that could not be parsed after its repair turns) is an experiment like any other.
"""

from __future__ import annotations

# The same failure this many times in a row stops the study ...
SAME_FAILURE_LIMIT = 3
# ... and so do this many failures in a row, whatever they say.
ANY_FAILURE_LIMIT = 10


def fix_hint(proposer: str) -> str:
    """What to do about a failing proposer, by kind."""
    if proposer.startswith("script:"):
        return (
            "fix the script or [proposer] use: it runs in the spec's folder (sandboxed like an experiment), "
            "reads the study as JSON on stdin and prints one proposal as JSON (docs/script.md)"
        )
    if proposer.startswith("agent:"):
        return (
            "fix [proposer] use or give the agent what it needs: [proposer] options pass_env (its API key), "
            "network = true, writable (its config folder)"
        )
    return "fix [proposer] use"


class FailureStreak:
    """Consecutive proposer failures; says when they must stop the study."""

    def __init__(self) -> None:
        self.count = 0  # failures in a row, any reason
        self.same = 0  # of those, the latest ones with the same reason
        self.reason = ""
        self.stop_reason = ""  # set once the failures must stop the study

    def observe(self, proposer: str, failed: bool, reason: str | None) -> str:
        """Count one proposal; returns why the study must stop, or ""."""
        if not failed:
            self.count = self.same = 0
            self.reason = ""
            return ""
        reason = reason or "no proposal"
        self.count += 1
        self.same = self.same + 1 if reason == self.reason else 1
        self.reason = reason
        if self.same < SAME_FAILURE_LIMIT and self.count < ANY_FAILURE_LIMIT:
            return ""
        how = "the same way" if self.same >= SAME_FAILURE_LIMIT else "without a proposal"
        times = self.same if self.same >= SAME_FAILURE_LIMIT else self.count
        self.stop_reason = (
            f"the proposer {proposer} failed {times} times in a row {how}: {reason}. {fix_hint(proposer)}; "
            "then run again to resume (these failures used no budget)"
        )
        return self.stop_reason
