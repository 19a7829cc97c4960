from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest

from autoresearch.core.experiment import Experiment
from autoresearch.engine.loop import Loop
from autoresearch.propose.samplers import SamplerProposer
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import BOWL, TRADE, bowl_spec, trade_spec, write_study


def params_sequence(root: Path) -> list[dict]:
    store = Store(root / ".autoresearch" / "bowl", create=False)
    try:
        return [e.params for e in store.experiments()]
    finally:
        store.close()


def run_budget(root: Path, experiments: int) -> None:
    spec = load_spec(root)
    Loop(spec.model_copy(update={"budget": spec.budget.model_copy(update={"experiments": experiments})})).run()


@pytest.mark.parametrize("sampler", ["random", "tpe", "cmaes", "nsga2"])
def test_each_sampler_runs_a_study(tmp_path: Path, sampler: str) -> None:
    root = write_study(tmp_path, bowl_spec(12, sampler), {"bowl.py": BOWL})
    outcome = Loop(load_spec(root)).run()
    params = params_sequence(root)
    assert len(params) == 12 and len({tuple(p.items()) for p in params}) == 12
    assert all(-5 <= p["x"] <= 5 and -5 <= p["y"] <= 5 for p in params)
    assert outcome.best is not None and outcome.best.objective <= 5.0


@pytest.mark.parametrize("sampler", ["random", "tpe", "cmaes", "nsga2"])
def test_resumed_study_samples_as_if_it_never_stopped(tmp_path: Path, sampler: str) -> None:
    straight = write_study(tmp_path / "a", bowl_spec(14, sampler), {"bowl.py": BOWL})
    run_budget(straight, 14)
    resumed = write_study(tmp_path / "b", bowl_spec(14, sampler), {"bowl.py": BOWL})
    for budget in (3, 8, 14):
        run_budget(resumed, budget)
    assert params_sequence(resumed) == params_sequence(straight)


def test_gp_sampler_needs_torch_or_says_so(tmp_path: Path) -> None:
    root = write_study(tmp_path, bowl_spec(6, "gp"), {"bowl.py": BOWL})
    try:
        import torch  # noqa: F401
    except ImportError:
        from autoresearch.core.proposal import ProposalError

        with pytest.raises(ProposalError, match="needs torch"):
            Loop(load_spec(root)).run()
        return
    Loop(load_spec(root)).run()
    assert len(params_sequence(root)) == 6


def test_tiny_space_is_exhausted_without_duplicates(tmp_path: Path) -> None:
    spec = bowl_spec(50, "tpe").replace(
        "x = { low = -5.0, high = 5.0 }\n    y = { low = -5.0, high = 5.0 }",
        "x = { choices = [0.0, 1.0] }\n    y = { choices = [-2.0, 0.0] }",
    )
    root = write_study(tmp_path, spec, {"bowl.py": BOWL})
    outcome = Loop(load_spec(root)).run()
    params = params_sequence(root)
    assert "exhausted" in outcome.stopped
    assert sorted((p["x"], p["y"]) for p in params) == [(0.0, -2.0), (0.0, 0.0), (1.0, -2.0), (1.0, 0.0)]


# Four categorical choices of three values each (81 points), like a tiny NAS-Bench-201 cell: TPE
# repeats tried points often here, which is where a resumed study used to diverge.
CELL = """
import json, sys
p = json.load(open(sys.argv[1]))
cost = {"none": 3.0, "skip": 1.0, "conv": 0.0}
print("loss:", sum(cost[p[k]] * w for k, w in zip("abcd", (1.0, 0.5, 0.25, 0.125))))
"""


def cell_spec(budget: int) -> str:
    return (
        bowl_spec(budget, "tpe")
        .replace(
            "x = { low = -5.0, high = 5.0 }\n    y = { low = -5.0, high = 5.0 }",
            "\n    ".join(f'{k} = {{ choices = ["none", "skip", "conv"] }}' for k in "abcd"),
        )
        .replace("bowl.py", "cell.py")
    )


def test_resume_is_exact_in_a_discrete_space_where_the_sampler_repeats_points(tmp_path: Path) -> None:
    straight = write_study(tmp_path / "a", cell_spec(60), {"cell.py": CELL})
    run_budget(straight, 60)
    resumed = write_study(tmp_path / "b", cell_spec(60), {"cell.py": CELL})
    run_budget(resumed, 40)  # stopped at 40, then resumed
    run_budget(resumed, 60)
    store = Store(straight / ".autoresearch" / "bowl", create=False)
    try:
        repeats = sum(len(e.extra.get("sampler_repeats", [])) for e in store.experiments())
    finally:
        store.close()
    assert repeats >= 10  # the sampler did repeat itself: the case this test is about
    assert params_sequence(resumed) == params_sequence(straight)


@pytest.mark.parametrize("sampler", ["random", "tpe"])
def test_studies_with_seeds_0_and_1_share_no_sampled_point(tmp_path: Path, sampler: str) -> None:
    points = []
    for seed in (0, 1):
        root = write_study(tmp_path / str(seed), bowl_spec(16, sampler).replace("[study]", f"[study]\nseed = {seed}"))
        (root / "bowl.py").write_text(BOWL)
        Loop(load_spec(root)).run()
        points.append({tuple(sorted(p.items())) for p in params_sequence(root)[1:]})  # [0] is the baseline
    assert len(points[0]) == len(points[1]) == 15
    assert not points[0] & points[1]


@pytest.mark.parametrize("sampler", ["random", "tpe", "cmaes"])
def test_one_reseeded_sampler_draws_what_a_fresh_sampler_per_ask_would(
    tmp_path: Path, sampler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flat-cost path keeps one sampler and reseeds its random states per ask, and CMA-ES indexes
    # its trials; this pins that it draws exactly what the plain path (a new stock sampler per ask)
    # draws, through several CMA-ES generations, with failures among the trials.
    from autoresearch.core.experiment import Experiment
    from autoresearch.propose import samplers
    from autoresearch.propose.base import Context
    from autoresearch.store.history import History

    spec = load_spec(write_study(tmp_path, bowl_spec(40, sampler), {"bowl.py": BOWL}))

    def draws() -> list[dict]:
        proposer = samplers.SamplerProposer(spec, sampler, [])
        history = History("minimize")
        out = []
        for i in range(1, 41):
            proposal = proposer.propose(Context(spec, history, None))
            assert proposal.params is not None
            x, y = proposal.params["x"], proposal.params["y"]
            failed = i % 7 == 0
            finished = Experiment(
                id=i, status="done", proposal={}, created_at=0.0, decision="failed" if failed else "reverted",
                params=proposal.params, objective=None if failed else (x - 1) ** 2 + (y + 2) ** 2,
                extra=proposal.extra,
            )  # fmt: skip
            proposer.observe(history.add(finished))
            out.append(proposal.params)
        return out

    reused = draws()
    monkeypatch.setattr(samplers, "_RESEEDABLE", ())
    monkeypatch.setattr(samplers, "IndexedCmaEsSampler", optuna.samplers.CmaEsSampler)
    assert reused == draws()


def test_tpe_window_fits_on_the_most_recent_trials_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from optuna.samplers._tpe import sampler as tpe

    seen: list[int] = []
    split = tpe._split_trials

    def counted(study: optuna.Study, trials: list, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        seen.append(len(trials))
        return split(study, trials, *args, **kwargs)

    monkeypatch.setattr(tpe, "_split_trials", counted)
    root = write_study(
        tmp_path,
        bowl_spec(60, "tpe").replace('use = "tpe"', 'use = "tpe"\noptions = { window = 20 }'),
        {"bowl.py": BOWL},
    )
    Loop(load_spec(root)).run()
    params = params_sequence(root)
    assert len(params) == 60 and len({tuple(p.items()) for p in params}) == 60
    # The model saw at most the 20 most recent trials (19: TPE leaves out the one it samples for),
    # though the study grew to 60.
    assert seen and max(seen) == 19


def test_tpe_window_must_be_a_number_of_trials(tmp_path: Path) -> None:
    root = write_study(
        tmp_path,
        bowl_spec(5, "tpe").replace('use = "tpe"', 'use = "tpe"\noptions = { window = "all" }'),
        {"bowl.py": BOWL},
    )
    from autoresearch.core.proposal import ProposalError

    with pytest.raises(ProposalError, match="window = 'all' must be a whole number of trials, 2 or more"):
        Loop(load_spec(root)).run()


# -- several objectives: Optuna's multi-objective mode ------------------------------------------------

NSGA2_SMALL = "[proposer.options]\npopulation_size = 4"


def trade_rows(root: Path) -> list[Experiment]:
    store = Store(root / ".autoresearch" / "trade", create=False)
    try:
        return store.experiments()
    finally:
        store.close()


@pytest.mark.parametrize("sampler", ["tpe", "nsga2"])
def test_samplers_are_told_every_objective_and_resume_exactly(tmp_path: Path, sampler: str) -> None:
    extra = NSGA2_SMALL if sampler == "nsga2" else ""
    straight = write_study(tmp_path / "a", trade_spec(12, sampler, extra), {"trade.py": TRADE})
    Loop(load_spec(straight)).run()
    resumed = write_study(tmp_path / "b", trade_spec(12, sampler, extra), {"trade.py": TRADE})
    for budget in (4, 9, 12):
        spec = load_spec(resumed)
        Loop(spec.model_copy(update={"budget": spec.budget.model_copy(update={"experiments": budget})})).run()
    rows = trade_rows(straight)
    assert [r.params for r in trade_rows(resumed)] == [r.params for r in rows]
    proposer = SamplerProposer(load_spec(straight), sampler, rows)  # the study rebuilt from the store
    told = {json.dumps(t.params, sort_keys=True): t.values for t in proposer.study.trials}
    assert [d.name for d in proposer.study.directions] == ["MINIMIZE", "MAXIMIZE"]
    for row in rows:
        assert row.objectives is not None and row.params is not None
        assert told[json.dumps(row.params, sort_keys=True)] == [row.objectives["time_ms"], row.objectives["accuracy"]]
    if sampler == "nsga2":  # past its first generation, NSGA-II breeds children: tagged with their generation
        generations = [t.system_attrs.get("NSGAIISampler:generation") for t in proposer.study.trials]
        assert max(g for g in generations if g is not None) >= 1


def test_cmaes_is_refused_with_several_objectives(tmp_path: Path) -> None:
    from autoresearch.spec import SpecError

    root = write_study(tmp_path, trade_spec(4, "cmaes"), {"trade.py": TRADE})
    with pytest.raises(SpecError, match="CMA-ES optimises one objective, and \\[metric\\] names several; use nsga2"):
        load_spec(root)
