"""The paired rule and the study's confirmation: interleaved runs, decided on paired differences.

The noise tests run the real loop and the real judge on a simulated evaluator (tests.support.simulate):
every measurement is the next tick of one clock, under noise that drifts, steps with load, or has heavy
tails. Seeds are fixed, so the counts are deterministic.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scipy import stats as scipy_stats

from autoresearch.core import stats
from autoresearch.engine.loop import Loop
from autoresearch.spec import SpecError, spec_from_dict
from autoresearch.store.database import Store
from tests.conftest import BOWL, bowl_spec, cli, write_study
from tests.support.simulate import NOISE_MODELS, Effects, Simulated, simulated_spec_data


def kept_of(tmp_path: Path, model: str, noise: dict[str, object], effect: float, repeats: int = 1) -> tuple[int, int]:
    """(kept, measurements) over 100 candidates whose true effect is EFFECT, under noise MODEL."""
    spec = spec_from_dict(simulated_spec_data(noise, 100, repeats), root=tmp_path)
    evaluator = Simulated(spec, NOISE_MODELS[model](7))
    loop = Loop(spec, evaluator=evaluator, proposer=Effects([effect]))
    loop.run()
    assert len(loop.history) == 101
    return sum(1 for e in loop.history if e.decision == "kept"), evaluator.measurements


PAIRED = {"rule": "paired", "confirm": False}


@pytest.mark.parametrize("model", list(NOISE_MODELS))
def test_paired_rule_keeps_at_most_one_in_a_hundred_no_op_candidates(tmp_path: Path, model: str) -> None:
    kept, measurements = kept_of(tmp_path, model, PAIRED, effect=0.0)
    print(f"\n{model}: paired kept {kept} of 100 no-op candidates, {measurements / 100:.1f} measurements each")
    assert kept <= 1
    assert measurements >= 100 * (1 + 2 * 4)  # every decision ran at least its first look's pairs


@pytest.mark.parametrize("model", list(NOISE_MODELS))
def test_paired_rule_detects_a_true_ten_percent_gain(tmp_path: Path, model: str) -> None:
    kept, _ = kept_of(tmp_path, model, PAIRED, effect=0.10)
    assert kept >= 90


def test_a_drifting_machine_fools_unpaired_rules_where_pairs_hold(tmp_path: Path) -> None:
    """Under drift a block measured in a fast phase looks better: the unpaired rules' false keeps."""
    unpaired, _ = kept_of(tmp_path / "s", "drift", {"rule": "significant", "baseline_repeats": 5}, 0.0, repeats=3)
    paired, _ = kept_of(tmp_path / "p", "drift", PAIRED, 0.0)
    assert unpaired >= 2 and paired == 0


def test_t_distribution_matches_scipy() -> None:
    for t, dof in [(0.5, 1), (2.0, 3), (7.0, 3), (-1.5, 5), (3.2, 15), (10.0, 2), (0.0, 4)]:
        assert stats.t_sf(t, dof) == pytest.approx(scipy_stats.t.sf(t, dof), rel=1e-9, abs=1e-12)
    for q, dof in [(0.975, 3), (0.9967, 7), (0.01, 2)]:
        assert stats.t_ppf(q, dof) == pytest.approx(scipy_stats.t.ppf(q, dof), rel=1e-6)


def test_trimmed_summary_shrugs_off_one_hiccup() -> None:
    steady = [0.10, 0.11, 0.09, 0.10, 0.12, 0.10, 0.11, 0.09, 0.10, 0.10]
    hiccup = [*steady[:-1], -5.0]  # one pair in which the candidate's run was hit by a load spike
    plain = stats.paired_summary(hiccup, trim=0.0)
    trimmed = stats.paired_summary(hiccup)
    assert plain.mean < 0 < trimmed.low and trimmed.p < 1e-4
    assert stats.looks(4, 16) == [4, 8, 16] and stats.looks(4, 10) == [4, 8, 10] and stats.looks(5, 5) == [5]


@pytest.mark.parametrize(
    ("noise", "message"),
    [
        ({"rule": "significant", "baseline_repeats": 2, "pairs": 6}, 'pairs only apply to rule = "paired"'),
        ({"rule": "paired", "pairs": 8, "max_pairs": 4}, "max_pairs (4) must be at least pairs (8)"),
        ({"rule": "strict", "alpha": 0.01}, 'alpha applies to test = "welch" or rule = "paired"'),
        ({"rule": "paired", "pairs": 1}, "noise.pairs: Input should be greater than or equal to 2"),
    ],
)
def test_bad_paired_settings_are_one_clear_line(noise: dict[str, object], message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        spec_from_dict(simulated_spec_data(noise, 10))


def test_study_end_and_confirm_command_report_the_confirmed_figure(tmp_path: Path) -> None:
    spec = bowl_spec(6, "random", '[noise]\nrule = "paired"\npairs = 2\nmax_pairs = 2')
    spec = spec.replace("high = 5.0 }", "high = 5.0, default = 5.0 }")  # a poor baseline: candidates beat it
    root = write_study(tmp_path / "bowl", spec)
    (root / "bowl.py").write_text(BOWL)
    run = cli("run", str(root))
    assert run.returncode == 0, run.stderr
    store = Store(root / ".autoresearch" / "bowl", create=False)
    try:
        experiments = store.experiments()
        confirmation = json.loads(store.get_meta("confirmation") or "{}")
    finally:
        store.close()
    kept = [e for e in experiments if e.decision == "kept"]
    assert kept, [e.reason for e in experiments]  # the bowl has no noise: a better point is kept on 2 pairs
    assert all(e.extra["paired"]["pairs"] == 2 and len(e.extra["paired"]["order"]) == 2 for e in kept)
    assert confirmation["best_id"] == kept[-1].id and confirmation["pairs"] == 10  # noise.confirm_pairs
    assert "confirmed: best" in run.stdout
    status = cli("status", str(root))
    assert f"confirmed: best #{kept[-1].id} vs baseline #1 over 10 interleaved pairs" in status.stdout
    again = cli("confirm", "--pairs", "3", str(root))
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()  # a line per pair while it measures, then the figure
    assert lines[0] == f"re-measuring best #{kept[-1].id} against baseline #1 on 3 interleaved pairs"
    assert [line.split(":")[0] for line in lines[1:4]] == ["pair 1/3", "pair 2/3", "pair 3/3"]
    # Fewer pairs than the figure on record: shown, not recorded; the more precise one stays, and it says so.
    assert (
        "over 3 interleaved pairs" in again.stdout
        and "Not recorded: the earlier confirmation over 10 pairs" in again.stdout
    )
    assert "vs baseline #1 over 10 interleaved pairs" in cli("status", str(root)).stdout
    forced = cli("confirm", "--pairs", "3", "--force", str(root))
    assert forced.returncode == 0 and "Not recorded" not in forced.stdout, forced.stderr
    assert cli("export", "--format", "json", str(root)).returncode == 0
    rows = {row["id"]: row for row in json.loads((root / "results.json").read_text())}
    best_row = rows[kept[-1].id]
    assert best_row["confirmed_pairs"] == 3 and float(best_row["confirmed_low"]) <= float(
        best_row["confirmed_improvement"]
    )
    assert rows[1]["confirmed_improvement"] == ""
    assert cli("report", str(root)).returncode == 0
    assert "confirmed improvement" in (root / ".autoresearch" / "bowl" / "report" / "report.md").read_text()


def test_confirm_says_why_when_there_is_nothing_to_confirm(tmp_path: Path) -> None:
    root = write_study(tmp_path / "bowl", bowl_spec(1, "random"))
    (root / "bowl.py").write_text(BOWL)
    assert cli("confirm", str(root)).returncode == 1  # never run: no study
    assert cli("run", str(root)).returncode == 0
    result = cli("confirm", str(root))
    assert result.returncode == 1 and "no candidate was kept" in result.stderr


def test_init_code_template_proposes_timing_settings_for_a_time(tmp_path: Path) -> None:
    assert cli("init", "--template", "code", str(tmp_path / "t")).returncode == 0
    timed = (tmp_path / "t" / "autoresearch.toml").read_text()
    assert 'rule = "paired"' in timed and "Measuring timings" in timed and "time.process_time()" in timed
    assert cli("init", "--template", "code", "--metric", "latency_ms", str(tmp_path / "l")).returncode == 0
    assert 'rule = "paired"' in (tmp_path / "l" / "autoresearch.toml").read_text()
    assert cli("init", "--template", "code", "--metric", "accuracy", str(tmp_path / "a")).returncode == 0
    other = (tmp_path / "a" / "autoresearch.toml").read_text()
    assert 'name = "accuracy"' in other and "[noise]" not in other
