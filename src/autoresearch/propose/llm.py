"""LLMProposer: asks a chat model for the next candidate, repairs bad answers, learns which strategies pay.

One propose() = pick a strategy (bandit) -> build a bounded prompt -> chat -> parse and validate ->
on error send the reason back (up to max_attempts) -> Proposal, or Proposal(rejected_reason=...).
Options (spec.proposer.options) are listed in DEFAULTS; backend options are in llm.factory.make_backend.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from autoresearch.core.experiment import JUDGED, Decision
from autoresearch.core.proposal import Proposal, ProposalError
from autoresearch.core.space import check_params, params_key
from autoresearch.llm import ChatBackend, ChatReply, LLMError, Message, cost_usd, make_backend
from autoresearch.propose.base import Context
from autoresearch.propose.lessons import LESSONS_FILE, Lessons
from autoresearch.propose.llm_parse import extract_edits, extract_json
from autoresearch.propose.prompt import (
    HistoryLimits,
    clip,
    describe_space,
    fmt_number,
    fmt_params,
    format_files,
    format_history,
    format_parent,
    format_pending,
    format_runs,
    load_template,
    objective_text,
    render,
)
from autoresearch.propose.strategies import Strategy, StrategyScheduler, strategies_from_options

if TYPE_CHECKING:
    from autoresearch.core.experiment import Experiment
    from autoresearch.spec import Spec

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "max_attempts": 3,  # chat turns per proposal, repairs included
    "temperature": 0.7,
    "temperature_step": 0.2,  # added per stagnation level
    "temperature_max": 1.2,
    "max_tokens": None,  # None: 1024 in params mode, 4096 in code mode
    "stagnation_patience": 10,  # experiments without improvement before escalating
    "explore": 0.15,  # strategy exploration floor (probability of a uniform pick)
    "lessons_every": 10,  # 0 disables lessons
    "max_prompt_chars": 60_000,
    "max_file_chars": 30_000,
    "lessons_chars": 3000,
    "seed": None,
}

SEARCH_REPLACE_HELP = """\
Each block names the file on its own line, then the exact current lines and their replacement:

path/to/file.py
<<<<<<< SEARCH
exact lines copied from the current file
=======
new lines
>>>>>>> REPLACE

SEARCH text must match the file exactly (whitespace included) and be unique in it; use several blocks
for several changes. Inside the JSON string, escape newlines as \\n and quotes as \\"."""


class LLMProposer:
    slow = True  # an LLM call takes seconds: the loop proposes the next candidate while one runs
    """A Proposer backed by a chat model (see autoresearch.llm.make_backend)."""

    def __init__(
        self,
        spec: Spec,
        backend: ChatBackend | None = None,
        *,
        options: dict[str, Any] | None = None,
        use: str | None = None,
    ) -> None:
        use = use or spec.proposer.use  # USE: "llm:<provider>/<model>" when another proposer holds [proposer] use
        self.spec = spec
        self.name = use if use.startswith("llm") else "llm"
        self.options = {**DEFAULTS, **(spec.proposer.options if options is None else options)}
        if self.options["seed"] is None:  # reproducible by default: the study's seed
            self.options["seed"] = spec.study.seed
        self.backend: ChatBackend = backend or make_backend(use, self.options)
        self.mode = spec.mode
        self.limits = HistoryLimits.from_options(self.options)
        seed = self.options["seed"]
        self.scheduler = StrategyScheduler(
            strategies_from_options(self.mode, self.options),
            explore=float(self.options["explore"]),
            seed=None if seed is None else int(seed),
        )
        self.lessons = Lessons(
            spec.study_dir / LESSONS_FILE,
            every=int(self.options["lessons_every"]),
            max_chars=int(self.options["lessons_chars"]),
        )
        self._observed: set[int] = set()
        # Another optimiser's state in words, shown in the params prompt (the hybrid proposer's sampler).
        self.advisor: Callable[[], str] | None = None
        self._warmed = False
        self._ancestor_turn = 0
        backend_name = str(getattr(self.backend, "name", self.name.removeprefix("llm:")))
        self._provider, _, self._model = backend_name.partition("/")

    def __repr__(self) -> str:
        return f"LLMProposer({self.name!r})"

    # -- the Proposer protocol --------------------------------------------------------------------

    def observe(self, experiment: Experiment) -> None:
        if experiment.id in self._observed or experiment.status != "done":
            return
        if experiment.decision in JUDGED:
            self._observed.add(experiment.id)
            self.scheduler.record(experiment.strategy, experiment.decision == Decision.KEPT)

    def propose(self, context: Context) -> Proposal:
        if not self._warmed:  # resume: learn from what the store already holds
            self._warmed = True
            for exp in context.history:
                self.observe(exp)
        usage = _Usage()
        extra: dict[str, Any] = {}
        self._maybe_update_lessons(context, usage, extra)

        patience = int(self.options["stagnation_patience"])
        level = context.stagnation // patience if patience > 0 else 0
        temperature = float(self.options["temperature"])
        avoid = None
        parent: Experiment | None = None
        if level > 0:
            temperature = min(
                temperature + level * float(self.options["temperature_step"]), float(self.options["temperature_max"])
            )
            avoid = self._stale_family(context, patience)
            # Restarting from another good experiment is this proposer's own escape from a stalled chain;
            # a search policy's draft or debug task names its parent on purpose and is left alone.
            improving = context.task == "improve"
            parent = self._other_ancestor(context) if self.mode == "params" and improving else None
        strategy = self.scheduler.choose(avoid_family=avoid)
        escalation = self._escalation_text(level, parent)
        extra["llm"] = {
            "backend": f"{self._provider}/{self._model}",
            "temperature": temperature,
            "stagnation_level": level,
            "strategy_family": strategy.family,
        }
        if parent is not None:
            extra["llm"]["parent_id"] = parent.id
        if avoid is not None:
            extra["llm"]["avoided_family"] = avoid

        messages: list[Message] = [
            {"role": "system", "content": render(load_template("system", self.spec.root))},
            {"role": "user", "content": self._user_prompt(context, strategy, escalation, parent)},
        ]
        responses: list[str] = []
        errors: list[str] = []
        max_attempts = max(1, int(self.options["max_attempts"]))
        proposal: Proposal | None = None
        exclude: dict[str, Any] = {}  # parameter -> value the next answer must not use (after repeats)
        for attempt in range(max_attempts):
            reply = self._chat(messages, temperature, usage, exclude=exclude)
            responses.append(reply.text)
            try:
                proposal = self._parse(reply.text, context, parent)
                break
            except ValueError as exc:
                errors.append(str(exc))
                if isinstance(exc, RepeatError):
                    # Models (small ones above all) tend to copy the point they are shown. Sample
                    # harder and make the next answer change one parameter, in the schema where the
                    # backend enforces it (llama.cpp grammars, structured outputs) and in the text.
                    temperature = min(
                        temperature + 2 * float(self.options["temperature_step"]),
                        float(self.options["temperature_max"]),
                    )
                    focus = self._focus(exc.params, attempt)
                    if focus is not None:
                        exclude = {focus: exc.params[focus]}
                        exc = RepeatError(f"{exc} Change `{focus}` this time.", exc.params)
                        errors[-1] = str(exc)
                log.info("LLM answer %d/%d unusable: %s", attempt + 1, max_attempts, exc)
                if attempt + 1 < max_attempts:
                    messages.append({"role": "assistant", "content": reply.text})
                    messages.append(
                        {"role": "user", "content": render(load_template("repair", self.spec.root), error=str(exc))}
                    )
        if proposal is None:
            proposal = Proposal(
                rejected_reason=(
                    f"the LLM gave no usable proposal in {max_attempts} attempt(s); last error: {errors[-1]}"
                )
            )
            extra["unusable_answer"] = True  # counted in the budget, and status says how many (docs/llm.md)
        proposal.strategy = strategy.name
        if parent is not None and proposal.parent_id is None:
            proposal.parent_id = parent.id
        extra["prompt"] = messages
        extra["response"] = responses
        if errors:
            extra["llm"]["errors"] = errors
        extra["llm"]["attempts"] = len(responses)
        proposal.extra.update(extra)
        proposal.tokens_in, proposal.tokens_out = usage.tokens_in, usage.tokens_out
        proposal.cost_usd = usage.cost
        return proposal

    # -- pieces -----------------------------------------------------------------------------------

    def _chat(
        self,
        messages: list[Message],
        temperature: float,
        usage: _Usage,
        *,
        json_schema: bool = True,
        max_tokens: int | None = None,
        exclude: dict[str, Any] | None = None,
    ) -> ChatReply:
        default_tokens = 1024 if self.mode == "params" else 4096
        try:
            reply = self.backend.chat(
                messages,
                temperature=temperature,
                max_tokens=int(max_tokens or self.options["max_tokens"] or default_tokens),
                json_schema=self._schema(exclude or {}) if json_schema else None,
            )
        except LLMError as exc:
            # An outage is not the candidate's fault: the loop decides whether to wait or stop.
            raise ProposalError(str(exc)) from None
        usage.add(reply, self._cost(reply))
        return reply

    def _cost(self, reply: ChatReply) -> float | None:
        prices = self.options.get("prices")
        cost = cost_usd(self._provider, self._model, reply.tokens_in, reply.tokens_out, prices)
        if cost is None and reply.model:
            cost = cost_usd(self._provider, reply.model, reply.tokens_in, reply.tokens_out, prices)
        return cost

    def _focus(self, params: dict[str, Any], attempt: int) -> str | None:
        """A parameter with a finite set of values to force a change on, rotating over attempts."""
        finite = [n for n, values in self._enums().items() if len(values) > 1 and n in params]
        return finite[attempt % len(finite)] if finite else None

    def _enums(self) -> dict[str, list[Any]]:
        enums: dict[str, list[Any]] = {}
        for name, p in self.spec.params.items():
            if p.type == "categorical":
                enums[name] = list(p.choices or [])
            elif p.type == "int" and p.low is not None and p.high is not None and p.high - p.low < 64:
                # An enum is the one integer bound that grammar-constrained decoders (llama.cpp) enforce.
                enums[name] = list(range(int(p.low), int(p.high) + 1, int(p.step or 1)))
        return enums

    def _schema(self, exclude: dict[str, Any]) -> dict[str, Any]:
        rationale = {"type": "string", "maxLength": 300}
        if self.mode == "code":
            return {
                "type": "object",
                "properties": {"rationale": rationale, "edits": {"type": "string"}},
                "required": ["rationale", "edits"],
            }
        props: dict[str, Any] = {}
        enums = self._enums()
        for name, p in self.spec.params.items():
            if name in enums:
                props[name] = {"enum": [v for v in enums[name] if name not in exclude or v != exclude[name]]}
            else:
                props[name] = {"type": "integer" if p.type == "int" else "number", "minimum": p.low, "maximum": p.high}
        return {
            "type": "object",
            "properties": {
                "rationale": rationale,
                "params": {"type": "object", "properties": props, "required": list(props)},
            },
            "required": ["rationale", "params"],
        }

    def _parse(self, text: str, context: Context, parent: Experiment | None) -> Proposal:
        """A validated Proposal from the answer, or ValueError with the reason for the repair turn."""
        if self.mode == "code":
            rationale, edits = extract_edits(text)
            proposal = Proposal(edits=edits, edit_format="search_replace", rationale=rationale.strip())
        else:
            data = extract_json(text)
            if "params" not in data:
                raise ValueError('the JSON object needs a "params" object')
            base = parent or context.parent
            fallback = dict(base.params or {}) if base is not None else {}
            for name, p in self.spec.params.items():
                fallback.setdefault(name, p.baseline_value())
            params, filled = check_params(data["params"], self.spec.params, fallback, mend=True)
            self._check_repeat(params, context)
            proposal = Proposal(params=params, rationale=str(data.get("rationale", "")).strip())
            if filled:
                proposal.extra["filled_from_parent"] = filled
        problem = context.check(proposal)
        if problem:
            raise ValueError(problem)
        return proposal

    def _check_repeat(self, params: dict[str, Any], context: Context) -> None:
        key = params_key(params)
        exp = context.history.with_params(params)  # an index lookup, not a scan of the history
        if exp is not None:
            result = f"objective {fmt_number(exp.objective)}" if exp.objective is not None else exp.decision
            raise RepeatError(
                f"these exact params were already tried in experiment #{exp.id} "
                f"({result}); propose a point not tried yet.",
                params,
            )
        for pending in context.pending:
            if pending.params and params_key(pending.params) == key:
                raise RepeatError("these exact params are already proposed and running; propose another point.", params)

    def _stale_family(self, context: Context, patience: int) -> str | None:
        """The strategy family used most over the stagnant stretch (from the store, so resume-proof)."""
        recent = [e.strategy for e in context.history[-patience:] if e.strategy in self.scheduler.strategies]
        if not recent:
            return self.scheduler.dominant_family(patience)
        families = [self.scheduler.strategies[name].family for name in recent if name]
        return max(set(families), key=families.count)

    def _other_ancestor(self, context: Context) -> Experiment | None:
        """A good experiment other than the best, rotating, to restart the search from when stuck."""
        best_id = context.parent.id if context.parent else None
        # The ranking is kept by the history; this walks it only until five are found.
        good = (e for e in context.history.ranked() if e.params and e.id != best_id)
        others = list(itertools.islice(good, 5))
        if not others:
            return None
        self._ancestor_turn += 1
        return others[(self._ancestor_turn - 1) % len(others)]

    def _escalation_text(self, level: int, parent: Experiment | None) -> str:
        if level <= 0:
            return ""
        stalled = level * int(self.options["stagnation_patience"])
        text = (
            f"\nThe search has stalled: no improvement in the last {stalled} experiments. "
            "Be bolder: try an idea unlike the recent ones.\n"
        )
        if parent is not None:
            text += (
                f"Start from experiment #{parent.id} (objective {fmt_number(parent.objective)}, "
                f"params {fmt_params(parent.params)}) instead of the current best.\n"
            )
        return text

    def _user_prompt(
        self, context: Context, strategy: Strategy, escalation: str, parent: Experiment | None = None
    ) -> str:
        limits = self.limits
        for _ in range(6):  # shrink the history until the prompt fits
            text = self._render_user(context, strategy, escalation, limits, parent)
            if len(text) <= int(self.options["max_prompt_chars"]):
                return text
            limits = limits.halved()
        return clip(text, int(self.options["max_prompt_chars"]))

    def _render_user(
        self,
        context: Context,
        strategy: Strategy,
        escalation: str,
        limits: HistoryLimits,
        parent: Experiment | None = None,
    ) -> str:
        spec = self.spec
        values = {
            "goal": clip(spec.goal.strip() or "(no goal given)", 8000),
            "metric": spec.metric.objective or spec.metric.name,
            "direction": spec.study.direction,
            "objective": objective_text(spec),
            "history": format_history(context.history, self.mode, limits),
            "lessons": self.lessons.read() or "None yet.",
            "pending": format_pending(context.pending, self.mode, limits.item_chars),
            "strategy_name": strategy.name,
            "strategy_description": strategy.description,
            "escalation": escalation,
            "format": self._format_help(),
            "runs": format_runs(context.history, parent or context.parent, spec.study_dir, limits),
            "parent": format_parent(
                parent or context.parent,
                context.lineage if parent is None else [],
                context.task,
                context.note,
                self.mode,
                limits,
            ),
        }
        if self.mode == "code":
            values["files"] = format_files(context.files, int(self.options["max_file_chars"]))
            return render(load_template("code", spec.root), **values)
        best = context.best
        if spec.metric.objectives and best is not None:
            values["best"] = "No single best with several objectives: the Pareto front is listed in the history below."
        elif best is not None and best.params:
            values["best"] = f"#{best.id}: objective {fmt_number(best.objective)} with params {fmt_params(best.params)}"
        else:
            baseline = {n: p.baseline_value() for n, p in spec.params.items()}
            values["best"] = f"None measured yet. Baseline values: {fmt_params(baseline)}"
        values["space"] = describe_space(spec)
        advice = self.advisor() if self.advisor is not None else ""
        heading = "# The optimiser's state (it proposes the other candidates)"
        # Ends in a blank line, and is nothing at all without an advisor: other prompts stay as they were.
        values["optimizer"] = f"{heading}\n{advice}\n\n" if advice else ""
        return render(load_template("params", spec.root), **values)

    def _format_help(self) -> str:
        if self.mode == "code":
            return (
                "Answer with one JSON object and nothing else:\n"
                '{"rationale": "<one or two sentences: the change and why it should help>", '
                '"edits": "<SEARCH/REPLACE blocks>"}\n\n' + SEARCH_REPLACE_HELP
            )
        kinds = {"float": "<number>", "int": "<integer>", "categorical": "<one of the choices>"}
        shape = ", ".join(f"{json.dumps(n)}: {kinds[p.type or 'float']}" for n, p in self.spec.params.items())
        return (
            "Answer with one JSON object and nothing else, giving a value for every parameter:\n"
            '{"rationale": "<one or two sentences: the change and why it should help>", '
            f'"params": {{{shape}}}}}'
        )

    # -- lessons ----------------------------------------------------------------------------------

    def _maybe_update_lessons(self, context: Context, usage: _Usage, extra: dict[str, Any]) -> None:
        done = len(context.history)
        if not self.lessons.due(done):
            return
        limits = HistoryLimits(best=10, recent=30, failures=10, item_chars=self.limits.item_chars)
        prompt = render(
            load_template("lessons", self.spec.root),
            goal=clip(self.spec.goal.strip() or "(no goal given)", 4000),
            metric=self.spec.metric.objective or self.spec.metric.name,
            direction=self.spec.study.direction,
            objective=objective_text(self.spec),
            lessons=self.lessons.read() or "None yet.",
            history=format_history(context.history, self.mode, limits),
        )
        messages: list[Message] = [
            {"role": "system", "content": render(load_template("system", self.spec.root))},
            {"role": "user", "content": clip(prompt, int(self.options["max_prompt_chars"]))},
        ]
        try:
            reply = self._chat(messages, 0.3, usage, json_schema=False, max_tokens=1024)
        except ProposalError as exc:  # notes are a nicety: never stop the study for them
            log.warning("could not update lessons: %s", exc)
            return
        self.lessons.write(reply.text, done)
        extra["lessons"] = {"prompt": messages, "response": reply.text}


class RepeatError(ValueError):
    """The answer repeats a tried or pending point."""

    def __init__(self, message: str, params: dict[str, Any]) -> None:
        super().__init__(message)
        self.params = params


class _Usage:
    """Tokens and cost summed over every call made for one proposal."""

    def __init__(self) -> None:
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost: float | None = 0.0

    def add(self, reply: ChatReply, cost: float | None) -> None:
        self.tokens_in += reply.tokens_in
        self.tokens_out += reply.tokens_out
        self.cost = None if cost is None or self.cost is None else self.cost + cost


__all__ = ["DEFAULTS", "LLMProposer"]
