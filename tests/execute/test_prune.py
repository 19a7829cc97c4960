"""Early stopping: the [prune] rules on curves, the section's errors, and a watcher stopping a real run."""

from __future__ import annotations

import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from autoresearch.core.experiment import Decision, Experiment
from autoresearch.execute.prune import (
    Compared,
    EarlierCurves,
    LogWatcher,
    Pruner,
    Verdict,
    halving_verdict,
    incumbent_bar,
    incumbent_verdict,
    median_verdict,
    rungs,
    step_noise,
)
from autoresearch.spec import PruneSection, SpecError, spec_from_dict
from tests.conftest import PYTHON, cli, study_rows, write_study

# Validation losses per epoch of five finished runs: at step 3 their values are 0.9, 0.8, 0.7, 0.6, 0.5.
EARLIER = [[1.5 - 0.1 * k, 1.2 - 0.1 * k, 0.9 - 0.1 * k, 0.8 - 0.1 * k] for k in range(5)]


def test_median_prunes_a_run_worse_than_the_median_of_earlier_runs_at_its_step() -> None:
    verdict = median_verdict([1.6, 1.3, 0.95], EARLIER, metric="val_loss", minimize=True, min_runs=3)
    assert verdict is not None
    assert (verdict.step, verdict.value, verdict.reference, verdict.runs) == (3, 0.95, pytest.approx(0.7), 5)
    assert verdict.reason() == "pruned at step 3: val_loss 0.95 worse than the median 0.7 of 5 earlier runs"
    # Its best so far counts, not its last value: one noisy epoch after a good one does not stop it.
    assert median_verdict([1.0, 0.65, 0.75], EARLIER, metric="val_loss", minimize=True) is None
    # A run at the median goes on (strictly worse is pruned), and so does a better one.
    assert median_verdict([1.6, 1.3, 0.7], EARLIER, metric="val_loss", minimize=True) is None
    assert median_verdict([1.0, 0.9, 0.4], EARLIER, metric="val_loss", minimize=True) is None


def test_median_waits_for_warmup_and_enough_earlier_runs() -> None:
    bad = [9.0, 9.0, 9.0, 9.0]
    assert median_verdict(bad[:2], EARLIER, metric="m", minimize=True, warmup_steps=2) is None
    assert median_verdict(bad[:3], EARLIER, metric="m", minimize=True, warmup_steps=2) is not None
    assert median_verdict(bad[:3], EARLIER[:2], metric="m", minimize=True, min_runs=3) is None
    # Past the longest earlier curve there is nothing to compare with.
    assert median_verdict([*bad, 9.0], EARLIER, metric="m", minimize=True) is None
    assert median_verdict([], EARLIER, metric="m", minimize=True) is None


def test_median_follows_the_direction_and_counts_nan_as_worst() -> None:
    accuracies = [[0.5 + 0.1 * k, 0.6 + 0.1 * k] for k in range(3)]  # at step 2: 0.6, 0.7, 0.8
    low = median_verdict([0.4, 0.65], accuracies, metric="acc", minimize=False)
    assert low is not None and low.reference == pytest.approx(0.7)
    assert median_verdict([0.4, 0.75], accuracies, metric="acc", minimize=False) is None
    diverged = median_verdict([math.nan], EARLIER, metric="loss", minimize=True)
    assert diverged is not None and math.isnan(diverged.value)
    # Earlier runs that diverged do not count towards min_runs.
    assert median_verdict([5.0], [[math.nan]] * 4, metric="loss", minimize=True) is None


def test_halving_judges_on_rungs_and_keeps_the_top_one_over_eta() -> None:
    assert rungs(1, 3, 30) == [1, 3, 9, 27] and rungs(2, 2, 17) == [2, 4, 8, 16] and rungs(5, 3, 4) == []
    earlier = [[float(k)] * 9 for k in range(1, 9)]  # eight runs, flat at 1.0 .. 8.0
    # Nine runs at a rung, eta 3: the best three go on, so the cutoff is the third best (3.0).
    pruned = halving_verdict([3.5] * 3, earlier, metric="loss", minimize=True, eta=3)
    assert pruned is not None and (pruned.step, pruned.reference, pruned.runs) == (3, 3.0, 8)
    assert pruned.reason() == "pruned at step 3: loss 3.5 not in the top 1/3 of 9 runs at that rung (cutoff 3)"
    assert halving_verdict([2.5] * 3, earlier, metric="loss", minimize=True, eta=3) is None
    # Between rungs a run is never judged, however bad.
    assert halving_verdict([99.0] * 2, earlier, metric="loss", minimize=True, eta=3) is None
    assert halving_verdict([99.0] * 4, earlier, metric="loss", minimize=True, eta=3) is None
    # Maximising: the highest values go on.
    assert halving_verdict([7.5] * 3, earlier, metric="acc", minimize=False, eta=3) is None
    assert halving_verdict([5.5] * 3, earlier, metric="acc", minimize=False, eta=3) is not None
    # Too few earlier runs at the rung: no verdict yet.
    assert halving_verdict([99.0], earlier[:2], metric="loss", minimize=True, min_runs=3) is None
    diverged = halving_verdict([math.nan], earlier, metric="loss", minimize=True)
    assert diverged is not None and diverged.reference == 3.0  # nine runs, its own last: three go on


def test_halving_compares_with_the_runs_stopped_at_a_rung_too_as_asha_does() -> None:
    finished = [[1.0] * 3, [2.0] * 3]  # two runs that went on past rung 3
    stopped = [[5.0] * 3, [6.0] * 3, [7.0] * 3, [8.0] * 2]  # three stopped at rung 3, one before it
    only_survivors = Pruner(PruneSection(rule="halving", min_runs=2), "loss", finished, minimize=True)
    all_at_the_rung = Pruner(
        PruneSection(rule="halving", min_runs=2), "loss", Compared(finished, stopped), minimize=True
    )
    # Six runs at rung 3 (five earlier, this one), eta 3: the best two go on, and 1.5 is second.
    assert all_at_the_rung.judge([1.5] * 3) is None
    verdict = only_survivors.judge([1.5] * 3)  # among the survivors alone it would be the worst of three
    assert verdict is not None and verdict.reference == 1.0


# The incumbent's validation loss per epoch, falling to 0.30 with a little noise (its same-seed run).
INCUMBENT = [1.30, 0.80, 0.55, 0.43, 0.36, 0.33, 0.31, 0.30]


def test_incumbent_prunes_a_run_that_cannot_beat_the_incumbents_curve_by_the_end() -> None:
    noise = step_noise(INCUMBENT)
    assert 0 < noise < 0.05
    # At step 3 the incumbent had 0.25 still to go (0.55 -> 0.30): with factor 2 a run may be 0.50
    # above the incumbent's end plus the noise of a difference of two runs.
    bar, final = incumbent_bar([INCUMBENT], 3, minimize=True, factor=2.0)  # type: ignore[misc]
    assert final == 0.30 and bar == pytest.approx(0.30 + 2 * 0.25 + 3 * math.sqrt(2) * noise)
    losing = [1.5, 1.2, bar + 0.01]
    verdict = incumbent_verdict(losing, [INCUMBENT], metric="val_loss", minimize=True, incumbent_id=7, factor=2.0)
    assert verdict is not None and (verdict.step, verdict.reference, verdict.incumbent) == (3, bar, 7)
    assert verdict.reason() == (
        f"pruned at step 3: val_loss {bar + 0.01:.6g} cannot beat #7's 0.3 by the end "
        f"(worse than {bar:.6g}, the most #7's 1 curve(s) allow at that step)"
    )
    assert verdict.as_record()["incumbent"] == 7 and verdict.as_record()["incumbent_final"] == 0.30
    # Just under the bar goes on; so does a run learning more slowly that could still catch up.
    assert (
        incumbent_verdict([1.5, 1.2, bar - 0.01], [INCUMBENT], metric="m", minimize=True, incumbent_id=7, factor=2.0)
        is None
    )
    # The default factor 1.5 leaves less room: the same run stops.
    assert incumbent_verdict([1.5, 1.2, bar - 0.01], [INCUMBENT], metric="m", minimize=True, incumbent_id=7) is not None
    # A larger factor leaves more room; a warm-up judges nothing before it.
    assert incumbent_verdict(losing, [INCUMBENT], metric="m", minimize=True, incumbent_id=7, factor=3.0) is None
    assert incumbent_verdict(losing, [INCUMBENT], metric="m", minimize=True, incumbent_id=7, warmup_steps=3) is None
    assert incumbent_verdict(losing, [INCUMBENT], metric="m", minimize=True, incumbent_id=7, warmup_steps=2)
    # Late in the run the room is the noise: a run clearly above the incumbent's end stops.
    late = [v + 0.2 for v in INCUMBENT]
    assert incumbent_verdict(late, [INCUMBENT], metric="m", minimize=True, incumbent_id=7) is not None
    # Past the incumbent's own curve there is nothing to compare with; no curve: nothing judged.
    assert incumbent_verdict([9.0] * 9, [INCUMBENT], metric="m", minimize=True, incumbent_id=7) is None
    assert incumbent_verdict([9.0], [], metric="m", minimize=True, incumbent_id=7) is None


def test_incumbent_learns_its_margin_from_all_the_incumbents_curves_and_follows_the_direction() -> None:
    # A second run of the incumbent that fell further after step 3 (0.70 -> 0.28) widens the room.
    again = [1.40, 0.95, 0.70, 0.50, 0.38, 0.32, 0.29, 0.28]
    one, _ = incumbent_bar([INCUMBENT], 3, minimize=True, factor=2.0)  # type: ignore[misc]
    both, final = incumbent_bar([INCUMBENT, again], 3, minimize=True, factor=2.0)  # type: ignore[misc]
    assert final == 0.30  # the same-seed run's end is the one to beat
    spread = statistics.stdev([0.30, 0.28])
    assert both == pytest.approx(0.30 + 2 * 0.42 + 3 * math.sqrt(2) * max(spread, step_noise(INCUMBENT)))
    assert both > one
    # Maximising (an accuracy): the bar lies below the incumbent's end.
    accuracy = [1.0 - v for v in INCUMBENT]
    bar, final = incumbent_bar([accuracy], 3, minimize=False, factor=2.0)  # type: ignore[misc]
    assert final == pytest.approx(0.70) and bar == pytest.approx(0.70 - (one - 0.30))
    assert incumbent_verdict(
        [0.01, 0.02, bar - 0.01], [accuracy], metric="acc", minimize=False, incumbent_id=2, factor=2.0
    )
    assert not incumbent_verdict(
        [0.01, 0.02, bar + 0.01], [accuracy], metric="acc", minimize=False, incumbent_id=2, factor=2.0
    )
    # A diverged run (NaN) stops; a diverged incumbent curve is no bar.
    assert incumbent_verdict([math.nan], [INCUMBENT], metric="m", minimize=True, incumbent_id=7) is not None
    assert incumbent_bar([[1.0, math.nan]], 1, minimize=True, factor=2.0) is None


def _finished(
    number: int, decision: Decision, curve: list[float], *, best: bool = False, **extra: object
) -> Experiment:
    return Experiment(
        number,
        "done",
        {},
        0.0,
        objective=curve[-1],
        decision=decision,
        became_best=best,
        finished_at=float(number),
        extra={"prune_curve": curve, **extra},
    )


def test_the_compared_curves_follow_the_incumbent_its_repeats_its_pairs_and_the_stopped_runs() -> None:
    earlier = EarlierCurves()
    baseline = _finished(1, Decision.BASELINE, [2.0, 1.5, 1.2], best=True, prune_curves=[[2.0, 1.5, 1.2], [2.1, 1.6]])
    history: list[Experiment] = [baseline]
    compared = earlier.of(history)
    assert compared.incumbent_id == 1 and compared.incumbent == [[2.0, 1.5, 1.2], [2.1, 1.6]]
    assert compared.finished == [[2.0, 1.5, 1.2]] and compared.stopped == []
    pruned = _finished(2, Decision.PRUNED, [3.0, 2.9, 2.8, 2.7], pruned={"step": 2})
    pruned.objective = None
    paired = {"a_id": 3, "b_id": 1, "a_curves": [[1.5, 1.0, 0.9]], "b_curves": [[2.2, 1.7, 1.3]]}
    kept = _finished(3, Decision.KEPT, [1.4, 1.0, 0.8], best=True, paired=paired)
    reverted = _finished(4, Decision.REVERTED, [1.6, 1.1, 0.85])
    history += [pruned, kept, reverted]
    compared = earlier.of(history)
    assert compared.stopped == [[3.0, 2.9]]  # what it printed after the verdict is left out
    assert compared.incumbent_id == 3 and compared.incumbent == [[1.4, 1.0, 0.8], [1.5, 1.0, 0.9]]
    assert len(compared.finished) == 3
    # The pairs' runs of the earlier incumbent count for it (were it the incumbent again).
    assert earlier._own[1] == [[2.0, 1.5, 1.2], [2.1, 1.6], [2.2, 1.7, 1.3]]
    # Without an incumbent curve the rule says why it judges nothing.
    section = PruneSection(rule="incumbent")
    assert Pruner(section, "loss", Compared(), minimize=True).idle() == (
        'not judged by [prune] rule = "incumbent": the study has no incumbent yet'
    )
    idle = Pruner(section, "loss", Compared(incumbent_id=4), minimize=True).idle()
    assert idle is not None and "the incumbent #4 has no recorded loss curve" in idle
    assert Pruner(section, "loss", compared, minimize=True).idle() is None
    assert Pruner(PruneSection(), "loss", Compared(), minimize=True).idle() is None


def test_the_prune_section_names_each_mistake_in_one_line() -> None:
    base = {"run": {"command": "true"}, "metric": {"name": "loss"}, "params": {"x": {"low": 0.0, "high": 1.0}}}
    spec = spec_from_dict({**base, "prune": {"rule": "halving", "eta": 2, "min_steps": 2}})
    assert spec.prune is not None and (spec.prune.rule, spec.prune.eta, spec.prune.min_steps) == ("halving", 2, 2)
    assert spec.prune.metric_name(spec.metric.name) == "loss"
    assert spec.source is not None and spec.source.normalised["prune"]["rule"] == "halving"
    # A study without [prune] snapshots as it did before the section existed (its spec hash is unchanged).
    plain = spec_from_dict(base)
    assert plain.prune is None and plain.source is not None and "prune" not in plain.source.normalised

    def error(prune: dict[str, object], **metric: object) -> str:
        with pytest.raises(SpecError) as info:
            spec_from_dict({**base, "metric": {"name": "loss", **metric}, "prune": prune})
        assert "\n" not in str(info.value)
        return str(info.value)

    assert 'eta only applies to rule = "halving"' in error({"eta": 2})
    assert 'warmup_steps only applies to rule = "median" or "incumbent"' in error(
        {"rule": "halving", "warmup_steps": 2}
    )
    assert "use min_steps instead" in error({"rule": "halving", "warmup_steps": 2})
    assert 'factor only applies to rule = "incumbent"' in error({"factor": 3})
    assert 'min_runs only applies to rule = "median" or "halving"' in error({"rule": "incumbent", "min_runs": 2})
    assert "use warmup_steps instead" in error({"rule": "incumbent", "min_steps": 2})
    assert "prune.factor" in error({"rule": "incumbent", "factor": 0.5})
    incumbent = spec_from_dict({**base, "prune": {"rule": "incumbent", "factor": 3, "warmup_steps": 1}}).prune
    assert incumbent is not None and (incumbent.factor, incumbent.warmup_steps) == (3.0, 1)
    assert "prune.rule" in error({"rule": "asha"})
    assert "prune.min_runs" in error({"min_runs": 0})
    assert "unknown key 'prune.warmup'" in error({"warmup": 1})
    assert "set prune.metric" in error({}, json="out.json:loss")
    # Naming the printed curve to watch makes a JSON-read metric valid.
    assert spec_from_dict({**base, "metric": {"name": "loss", "json": "o.json:loss"}, "prune": {"metric": "v"}})


def test_the_watcher_reads_only_whole_new_lines(tmp_path: Path) -> None:
    log = tmp_path / "stdout.log"
    watcher = LogWatcher(log, Pruner(PruneSection(min_runs=3), "val_loss", EARLIER, minimize=True))
    assert watcher.poll() is None  # no log yet
    with log.open("ab") as out:
        out.write(b"epoch 1\nval_loss: 1.0\nval_loss: 0.")
    assert watcher.poll() is None and watcher.curve == [1.0]  # the second line is still being written
    with log.open("ab") as out:
        out.write(b"9\nother: 5\n" + b"x" * 10_000 + b"val_loss: 0.1\nval_loss: 0.95\n")
    verdict = watcher.poll()  # the over-long line hides no value; step 3 (0.95 > median 0.7) prunes
    assert watcher.curve == [1.0, 0.9, 0.95] and verdict is not None and verdict.step == 3


# A training-like run: prints its validation loss per epoch, then an end marker.
RUN = """
import sys, time
losses = [float(v) for v in sys.argv[1].split(",")]
for epoch, loss in enumerate(losses, 1):
    print(f"epoch {epoch}", flush=True)
    print(f"val_loss: {loss}", flush=True)
    time.sleep(0.15)
print("END OF RUN", flush=True)
"""


def _watch(tmp_path: Path, losses: list[float]) -> tuple[int, str, Verdict | None]:
    """Run RUN with LOSSES under a watcher polling every 0.2 s, killing its process group on a verdict."""
    log = tmp_path / f"run-{len(list(tmp_path.iterdir()))}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, ",".join(map(str, losses))], stdout=out, start_new_session=True
        )
    watcher = LogWatcher(log, Pruner(PruneSection(min_runs=3, warmup_steps=1), "val_loss", EARLIER, minimize=True))
    verdict: Verdict | None = None
    while proc.poll() is None:
        verdict = watcher.poll()
        if verdict is not None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole group, as a timeout stops a run
            break
        time.sleep(0.2)
    return proc.wait(timeout=10), log.read_text(), verdict


def test_a_losing_run_is_stopped_early_and_a_good_one_runs_to_its_end(tmp_path: Path) -> None:
    code, output, verdict = _watch(tmp_path, [1.6, 1.4, 1.2, 1.1, 1.0, 0.9, 0.8, 0.7, 0.6, 0.5])
    assert code == -signal.SIGKILL and "END OF RUN" not in output
    assert verdict is not None and verdict.step == 2 and "epoch 5" not in output
    code, output, verdict = _watch(tmp_path, [1.0, 0.7, 0.5, 0.4])
    assert code == 0 and verdict is None and output.endswith("END OF RUN\n")


# A training job: its validation loss per epoch falls towards (x - 0.3)^2, so a far x loses from epoch 2.
TRAIN = """
import json, sys, time
x = json.load(open(sys.argv[1]))["x"]
for epoch in range(1, 9):
    print(f"val_loss: {(x - 0.3) ** 2 + 1.0 / epoch:.6f}", flush=True)
    time.sleep(0.3)
print("END OF TRAINING", flush=True)
"""


def test_a_study_prunes_losing_runs_and_its_sampler_learns_from_them(tmp_path: Path) -> None:
    study = write_study(
        tmp_path / "train",
        f"""
        [study]
        name = "train"
        [run]
        command = "{PYTHON} train.py {{params_file}}"
        timeout = "60s"
        [metric]
        name = "val_loss"
        [params]
        x = {{ low = -3.0, high = 3.0, default = -1.0 }}
        [proposer]
        use = "random"
        [budget]
        experiments = 8
        [prune]
        rule = "median"
        min_runs = 1
        warmup_steps = 1
        """,
        {"train.py": TRAIN},
    )
    result = cli("run", cwd=study, timeout=600)
    assert result.returncode == 0, result.stderr
    rows = study_rows(study / ".autoresearch" / "train")
    logs = {e.id: (study / ".autoresearch" / "train" / "experiments" / f"{e.id:05d}" / "stdout.log") for e in rows}
    baseline = rows[0]
    assert baseline.decision == "baseline" and "END OF TRAINING" in logs[baseline.id].read_text()
    pruned = [e for e in rows if e.decision == "pruned"]
    best = min(e.objective for e in rows if e.objective is not None)
    assert pruned, [(e.id, e.decision, e.reason) for e in rows]
    for e in pruned:
        record = e.extra["pruned"]
        assert record["rule"] == "median" and 2 <= record["step"] < 8 and record["value"] > record["reference"]
        assert e.reason is not None and e.reason.startswith(f"pruned at step {record['step']}: val_loss ")
        assert e.objective is None and "END OF TRAINING" not in logs[e.id].read_text()  # stopped, not finished
        # No true improvement was pruned: had it run to its end, it would have lost to the study's best.
        assert e.params is not None and (e.params["x"] - 0.3) ** 2 + 1 / 8 > best
    for e in rows:
        if e.decision != "pruned":
            assert "END OF TRAINING" in logs[e.id].read_text() and len(e.extra["prune_curve"]) == 8
    # Status, the report and `show` say it.
    status = cli("status", cwd=study)
    assert f"pruned {len(pruned)}" in status.stdout, status.stdout
    shown = cli("show", str(pruned[0].id), cwd=study)
    assert "pruned at step" in shown.stdout, shown.stdout
    # A resumed study's sampler is told the pruned trials as Optuna's PRUNED, with the value that decided.
    from autoresearch.propose.samplers import SamplerProposer
    from autoresearch.spec import load_spec

    proposer = SamplerProposer(load_spec(study), "tpe", rows)
    told = [t for t in proposer.study.get_trials() if t.state == TrialState.PRUNED]
    assert len(told) == len(pruned)
    assert sorted(list(t.intermediate_values.items()) for t in told) == sorted(
        [(e.extra["pruned"]["step"], e.extra["pruned"]["value"])] for e in pruned
    )


@pytest.mark.parametrize(
    ("prune", "reference"),
    [
        ({"min_runs": 2}, 1.01),  # median: of the two earlier runs at step 1
        ({"rule": "halving", "min_runs": 2}, 1.01),  # the top third of three runs at rung 1
        ({"rule": "incumbent"}, None),  # the incumbent's end plus 1.5 times its fall after step 1, plus noise
    ],
)
def test_only_a_candidates_first_run_is_watched_never_a_remeasurement_or_the_baseline(
    tmp_path: Path, prune: dict[str, object], reference: float | None
) -> None:
    from autoresearch.core.proposal import Proposal
    from autoresearch.execute.command import CommandEvaluator

    (tmp_path / "train.py").write_text(TRAIN)
    spec = spec_from_dict(
        {
            "run": {"command": f"{PYTHON} train.py {{params_file}}", "timeout": "60s"},
            "metric": {"name": "val_loss"},
            "params": {"x": {"low": -3.0, "high": 3.0}},
            "prune": prune,
        },
        root=tmp_path,
    )
    evaluator = CommandEvaluator(spec)
    good = [0.01 + 1.0 / epoch for epoch in range(1, 9)]  # x = 0.4: the curves of two finished runs
    history = [
        Experiment(
            i,
            "done",
            {"params": {"x": 0.4}},
            0.0,
            decision=decision,
            became_best=decision == Decision.BASELINE,
            extra={"prune_curve": good},
        )
        for i, decision in ((1, Decision.BASELINE), (2, Decision.REVERTED))
    ]
    evaluator.prime(history)

    def experiment(number: int, *, baseline: bool = False) -> Experiment:
        return Experiment(number, "running", {"params": {"x": 2.5}}, 0.0, params={"x": 2.5}, is_baseline=baseline)

    losing = Proposal(params={"x": 2.5})
    first = evaluator.evaluate(experiment(3), losing, 0)
    assert first.pruned is not None and first.pruned.startswith("pruned at step 1: val_loss 5.84")
    assert first.objective is None and first.extra["pruned"]["rule"] == spec.prune.rule  # type: ignore[union-attr]
    if reference is not None:
        assert first.extra["pruned"]["reference"] == pytest.approx(reference)
    else:
        bar = first.extra["pruned"]["reference"]
        assert first.extra["pruned"]["incumbent"] == 1 and 0.135 + 1.5 * 0.875 < bar < 1.6
    # The same losing run measured again (a recheck, paired runs, confirm), or as the baseline, runs to its end.
    again = evaluator.remeasure(experiment(3), for_experiment=experiment(3), seed_offset=7)
    assert again.pruned is None and again.objective == pytest.approx(4.84 + 1 / 8)
    baseline = evaluator.evaluate(experiment(4, baseline=True), losing, 0)
    assert baseline.pruned is None and baseline.objective == pytest.approx(4.84 + 1 / 8)


# A short training job for a paired study: its loss per epoch falls towards (x - 0.3)^2, with noise per seed.
PAIRED_TRAIN = """
import json, os, random, sys, time
x = json.load(open(sys.argv[1]))["x"]
noise = random.Random(os.environ["AUTORESEARCH_SEED"])
for epoch in range(1, 6):
    print(f"val_loss: {(x - 0.3) ** 2 + 1.0 / epoch + noise.gauss(0, 0.003):.6f}", flush=True)
    time.sleep(0.12)
print("END OF TRAINING", flush=True)
"""


def test_a_paired_study_prunes_against_the_incumbents_curves_and_shows_it_everywhere(tmp_path: Path) -> None:
    from autoresearch.propose.prompt import HistoryLimits, format_experiment
    from autoresearch.ui.dashboard.study_view import StudyView

    study = write_study(
        tmp_path / "paired",
        f"""
        [study]
        name = "paired"
        seed = 3
        [run]
        command = "{PYTHON} train.py {{params_file}}"
        timeout = "60s"
        [metric]
        name = "val_loss"
        [params]
        x = {{ low = -3.0, high = 3.0, default = -0.5 }}
        [proposer]
        use = "random"
        [noise]
        rule = "paired"
        pairs = 2
        max_pairs = 2
        confirm = false
        [budget]
        experiments = 6
        [prune]
        rule = "incumbent"
        """,
        {"train.py": PAIRED_TRAIN},
    )
    result = cli("run", cwd=study, timeout=600)
    assert result.returncode == 0, result.stderr
    folder = study / ".autoresearch" / "paired"
    rows = study_rows(folder)
    pruned = [e for e in rows if e.decision == "pruned"]
    paired = [e for e in rows if "paired" in e.extra]
    assert pruned and paired, [(e.id, e.decision, e.reason) for e in rows]
    assert rows[0].decision == "baseline" and len(rows[0].extra["prune_curve"]) == 5  # never pruned
    for e in paired:  # every re-measured run of a pair ran to its end: none was judged
        record = e.extra["paired"]
        assert len(record["a_curves"]) == len(record["b_curves"]) == 2
        assert all(len(curve) == 5 for curve in record["a_curves"] + record["b_curves"])
        logs = sorted((folder / "experiments" / f"{e.id:05d}" / "recheck").glob("*/stdout.log"))
        assert len(logs) == 4 and all("END OF TRAINING" in log.read_text() for log in logs)
    for e in pruned:
        record = e.extra["pruned"]
        incumbent = max((b for b in rows if b.became_best and b.id < e.id), key=lambda b: b.id)
        assert record["rule"] == "incumbent" and record["incumbent"] == incumbent.id
        assert record["value"] > record["reference"] > record["incumbent_final"]
        assert e.reason is not None and f"cannot beat #{incumbent.id}'s" in e.reason
        # The incumbent's curves: its own run, and its two runs in each pair it was measured in (when it
        # was kept, and since, against each candidate) before this one.
        sides = ("a_id", "b_id")
        pairs = sum(1 for p in paired if incumbent.id in (p.extra["paired"][k] for k in sides) and p.id < e.id)
        assert pairs and record["runs"] == 1 + 2 * pairs
        # Had it run to its end, it would not have beaten the incumbent.
        assert e.params is not None and (e.params["x"] - 0.3) ** 2 + 0.2 > incumbent.objective  # type: ignore[operator]
    # Status, the report, the dashboard and the proposers' prompt say it.
    assert f"pruned {len(pruned)}" in cli("status", cwd=study).stdout
    assert cli("report", str(study)).returncode == 0
    assert f"pruned {len(pruned)}" in (folder / "report" / "report.md").read_text()
    view = StudyView(folder, "paired")
    try:
        state = json.loads(view.state()[1])
        assert state["counts"]["pruned"] == len(pruned)
        table = view.table(decision="pruned")["rows"]
        assert {row["id"]: row["reason"] for row in table} == {e.id: e.reason for e in pruned}
        shown = view.experiment(pruned[0].id)
        assert shown is not None and shown["extra"]["pruned"]["rule"] == "incumbent"
    finally:
        view.close()
    line = format_experiment(pruned[0], "params", HistoryLimits())
    assert "pruned" in line and pruned[0].reason in line  # type: ignore[operator]


def test_a_measurement_over_repeats_keeps_each_repeats_curve_the_first_one_first(tmp_path: Path) -> None:
    from autoresearch.core.proposal import Proposal
    from autoresearch.execute.command import CommandEvaluator

    (tmp_path / "train.py").write_text(
        "import os\nseed = int(os.environ['AUTORESEARCH_SEED'])\n"
        "for epoch in range(1, 4):\n    print(f'val_loss: {seed + 1 / epoch}')\n"
    )
    spec = spec_from_dict(
        {
            "study": {"seed": 10},
            "run": {"command": f"{PYTHON} train.py", "repeats": 2},
            "metric": {"name": "val_loss"},
            "params": {"x": {"low": 0.0, "high": 1.0}},
            "noise": {"baseline_repeats": 3},
            "prune": {"rule": "incumbent"},
        },
        root=tmp_path,
    )
    evaluator = CommandEvaluator(spec)
    baseline = Experiment(1, "running", {"params": {"x": 0.5}}, 0.0, params={"x": 0.5}, is_baseline=True)
    measured = evaluator.evaluate(baseline, Proposal(params={"x": 0.5}), 0)
    curves = [[seed + 1.0, seed + 0.5, seed + 1 / 3] for seed in (10, 11, 12)]
    assert measured.extra["prune_curve"] == curves[0] and measured.extra["prune_curves"] == curves
    assert measured.extra.get("prune_idle") is None  # the baseline is never judged: nothing to say
    candidate = Experiment(2, "running", {"params": {"x": 0.2}}, 0.0, params={"x": 0.2})
    evaluator.prime([])
    first = evaluator.evaluate(candidate, Proposal(params={"x": 0.2}), 0)
    assert first.extra["prune_curves"] == curves[:2]
    assert first.extra["prune_idle"] == 'not judged by [prune] rule = "incumbent": the study has no incumbent yet'
