"""Several experiments at once on one machine: real subprocesses, real git, the real store and CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from autoresearch.core.experiment import Experiment
from autoresearch.core.proposal import Proposal
from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import PYTHON, cli, write_study

# Picks, at random, a choice not finished yet, paying no attention to the ones still running.
STUBBORN = """
import json, random, sys
study = json.load(sys.stdin)
done = {e["params"]["c"] for e in study["history"]}
left = [c for c in study["space"]["c"]["choices"] if c not in done]
open("proposed", "a").write(f"{sorted(p['params']['c'] for p in study['pending'])}\\n")
print(json.dumps({"params": {"c": random.choice(left)}, "rationale": "again"} if left else {"done": True}))
"""

# Records when it ran and what it was given, then reports a loss.
TIMED = """
import json, os, sys, time
p = json.load(open(sys.argv[1]))
start = time.time()
time.sleep(float(os.environ.get("HOLD", "0.4")))
with open(os.environ["RUNS"], "a") as out:
    out.write(json.dumps({"c": p["c"], "start": start, "end": time.time(),
                          "gpus": os.environ.get("CUDA_VISIBLE_DEVICES"), "out": os.environ["AUTORESEARCH_OUTPUT_DIR"],
                          "cpus": sorted(os.sched_getaffinity(0)),
                          "fraction": os.environ.get("AUTORESEARCH_GPU_MEMORY_FRACTION"),
                          "memory_mb": os.environ.get("AUTORESEARCH_GPU_MEMORY_MB")}) + "\\n")
print("loss:", p["c"])
"""


def rows(root: Path, name: str) -> list[Experiment]:
    store = Store(root / ".autoresearch" / name, create=False)
    try:
        return store.experiments()
    finally:
        store.close()


def study(tmp_path: Path, choices: int, workers: int, extra: str = "", budget: int = 100, hold: float = 0.4) -> Path:
    runs = tmp_path / "runs.jsonl"
    spec = f"""
    [study]
    name = "par"
    [run]
    command = "{PYTHON} timed.py {{params_file}}"
    workers = {workers}
    env = {{ RUNS = "{runs}", HOLD = "{hold}" }}
    {extra}
    [metric]
    name = "loss"
    [params]
    c = {{ choices = {list(range(choices))} }}
    [proposer]
    use = "script:{PYTHON} stubborn.py"
    [budget]
    experiments = {budget}
    [sandbox]
    kind = "none"  # every run appends to one shared file outside the study (RUNS), for the tests to read
    """
    return write_study(tmp_path / "study", spec, {"timed.py": TIMED, "stubborn.py": STUBBORN})


def runs(tmp_path: Path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]


def overlapping(runs: list[dict]) -> list[tuple[dict, dict]]:
    pairs = [(a, b) for i, a in enumerate(runs) for b in runs[i + 1 :]]
    return [(a, b) for a, b in pairs if a["start"] < b["end"] and b["start"] < a["end"]]


def most_at_once(runs: list[dict]) -> int:
    return max(sum(r["start"] <= s["start"] < r["end"] for r in runs) for s in runs)


def test_four_workers_and_a_proposer_that_repeats_itself_run_each_candidate_once(tmp_path: Path) -> None:
    root = study(tmp_path, choices=9, workers=4, hold=1.5)
    outcome = Loop(load_spec(root)).run()
    experiments = rows(root, "par")
    values = [e.params["c"] for e in experiments if e.params]
    # Every choice ran exactly once, the store has one finished row per run, and nothing else.
    assert sorted(values) == list(range(9)) and len(experiments) == 9
    assert all(e.status == "done" and e.decision in ("baseline", "reverted") for e in experiments)
    assert [e.id for e in experiments] == list(range(1, 10))
    assert sorted(r["c"] for r in runs(tmp_path)) == list(range(9))
    assert outcome.stopped == "the script proposer has nothing more to propose"
    assert most_at_once(runs(tmp_path)) == 4  # the proposer's repeats did not leave workers idle
    # The script saw the running candidates as pending; its duplicates were never recorded.
    assert all(e.decision != "rejected" for e in experiments)
    asked = (root / "proposed").read_text().splitlines()
    assert len(asked) > 8  # it was asked again after proposing a running candidate


def test_gpus_are_disjoint_among_running_experiments_and_workers_are_limited(tmp_path: Path) -> None:
    root = study(tmp_path, choices=7, workers=4, extra="gpus = 2\n    gpu_ids = [0, 1, 2, 5, 7]", hold=0.6)
    done = cli("run", str(root), timeout=120)
    assert done.returncode == 0, done.stderr
    # Five GPUs hold two experiments of two GPUs each: said once, then obeyed.
    assert "4 workers x 2 GPU(s) need 8 GPUs but 5 are available (0,1,2,5,7): running 2 experiment(s) at once" in (
        done.stdout
    )
    seen = runs(tmp_path)
    assert len(seen) == 7 and most_at_once(seen) == 2
    for r in seen:
        assert len(r["gpus"].split(",")) == 2 and set(r["gpus"].split(",")) <= {"0", "1", "2", "5", "7"}
    pairs = overlapping(seen)
    assert pairs  # some ran at the same time, and those never shared a GPU
    for a, b in pairs:
        assert not set(a["gpus"].split(",")) & set(b["gpus"].split(","))


def test_cpu_affinity_pins_each_running_experiment_to_its_own_cpus(tmp_path: Path) -> None:
    root = study(tmp_path, choices=5, workers=2, extra="cpus_per_experiment = 1", hold=0.6)
    Loop(load_spec(root)).run()
    seen = runs(tmp_path)
    assert len(seen) == 5 and all(len(r["cpus"]) == 1 for r in seen)
    pairs = overlapping(seen)
    assert pairs
    for a, b in pairs:
        assert a["cpus"] != b["cpus"]


def test_paired_runs_use_the_candidates_slot_while_other_slots_keep_running(tmp_path: Path) -> None:
    """With workers > 1, a candidate and the incumbent alternate within the candidate's slot (its GPU),
    so both sides of every pair see the same devices and the same load from the other slots."""
    noise = '\n    [noise]\n    rule = "paired"\n    pairs = 2\n    max_pairs = 2\n    confirm = false'
    root = study(tmp_path, choices=6, workers=2, extra="gpus = 1\n    gpu_ids = [0, 1]" + noise, hold=0.3)
    Loop(load_spec(root)).run()
    own: dict[int, str] = {}  # experiment id -> the GPU of its own run
    paired: dict[int, list[dict]] = {}  # experiment id -> the runs of its pairs (both sides)
    for r in runs(tmp_path):
        parts = Path(r["out"]).parts
        owner = int(parts[parts.index("experiments") + 1])
        if "recheck" in parts:
            paired.setdefault(owner, []).append(r)
        else:
            own[owner] = r["gpus"]
    experiments = rows(root, "par")
    assert len(paired) == len(experiments) - 1  # every candidate was judged on pairs
    for owner, pair_runs in paired.items():
        candidate = next(e for e in experiments if e.id == owner)
        assert len(pair_runs) == 4 and len(candidate.extra["paired"]["order"]) == 2
        assert {r["gpus"] for r in pair_runs} == {own[owner]}, (owner, own[owner], pair_runs)
        assert candidate.params is not None and candidate.params["c"] in {r["c"] for r in pair_runs}
    assert set(own[owner] for owner in paired) == {"0", "1"}  # candidates ran in both slots


def test_device_requests_that_cannot_be_met_are_clear_errors(tmp_path: Path) -> None:
    root = study(tmp_path / "a", choices=3, workers=1, extra="gpus = 3\n    gpu_ids = [0, 1]")
    done = cli("run", str(root))
    assert done.returncode == 1 and "run.gpus = 3 per experiment, but run.gpu_ids lists 2 GPU(s)" in done.stderr
    assert "Traceback" not in done.stderr
    root = study(tmp_path / "b", choices=3, workers=1, extra="resources = { cpus = 2 }")
    done = cli("run", str(root))
    assert done.returncode == 2 and 'run: resources applies to executor = "ray"' in done.stderr
    root = study(tmp_path / "c", choices=3, workers=1, extra="gpus = 1\n    gpu_ids = [0, 0]")
    done = cli("run", str(root))
    assert done.returncode == 2 and "lists a GPU twice" in done.stderr


# -- code mode: a candidate kept while built on an older best ----------------------------------------

# A, B and DELAY are far apart so that a change to one does not touch the context of another.
FILLER = "".join(f"# line {i}\n" for i in range(8))


def target(a: int = 10, b: int = 10, delay: float = 0.2, tag: str = "") -> str:
    return f"A = {a}\n{FILLER}B = {b}\n{FILLER}DELAY = {delay}\n{FILLER}TAG = {tag!r}\n"


MEASURE = "import time, target\ntime.sleep(target.DELAY)\nprint('cost:', target.A + target.B)\n"

# Call n (counted in a file) returns edits[n]; past the end, slow and worse candidates.
SEQUENCE = """
import json, os, sys
json.load(sys.stdin)
state = os.path.join(os.environ["AUTORESEARCH_PROPOSER_DIR"], "calls")  # the one folder it may write
calls = open(state).read() if os.path.exists(state) else ""
n = len(calls)
open(state, "a").write("x")
edits = json.load(open("edits.json"))
if n < len(edits):
    print(json.dumps(edits[n]))
else:
    print(json.dumps({"edits": {"target.py": edits[-1]["worse"].replace("TAG = ''", f"TAG = '{n}'")},
                      "rationale": "worse"}))
"""


def code_study(tmp_path: Path, edits: list[dict], budget: int, extra: str = "", sandbox: str = "auto") -> Path:
    root = write_study(
        tmp_path / "repo",
        f"""
    [study]
    name = "cm"
    [run]
    command = "{PYTHON} measure.py"
    workers = 2
    {extra}
    [metric]
    name = "cost"
    [code]
    editable = ["target.py"]
    protected = ["measure.py"]
    [proposer]
    use = "script:{PYTHON} sequence.py"
    [budget]
    experiments = {budget}
    [sandbox]
    kind = "{sandbox}"
    """,
        {"target.py": target(), "measure.py": MEASURE, "sequence.py": SEQUENCE},
    )
    edits[-1]["worse"] = target(50, 50, 2.0)
    (root / "edits.json").write_text(json.dumps(edits))
    (root / ".gitignore").write_text("calls\nedits.json\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "initial"]):
        subprocess.run(["git", "-c", "user.name=u", "-c", "user.email=u@x", *args], cwd=root, check=True)
    return root


def branch_file(root: Path) -> str:
    return subprocess.run(
        ["git", "show", "autoresearch/cm:target.py"], cwd=root, check=True, capture_output=True, text=True
    ).stdout


def test_a_candidate_kept_on_an_older_best_is_re_based_and_the_combination_measured(tmp_path: Path) -> None:
    fast_a = {"edits": {"target.py": target(a=7)}, "rationale": "lower A"}  # cost 17, done first
    slow_b = {"edits": {"target.py": target(b=5, delay=2.5)}, "rationale": "lower B"}  # cost 15, done later
    root = code_study(tmp_path, [fast_a, slow_b], budget=6)
    Loop(load_spec(root)).run()
    by_id = {e.id: e for e in rows(root, "cm")}
    assert len(by_id) == 6 and all(e.status == "done" for e in by_id.values())
    assert by_id[2].decision == "kept" and by_id[2].objective == 17
    # #3 was built on the baseline while #2 was kept: kept as measured (15 < 17) ...
    assert by_id[3].decision == "kept" and by_id[3].parent_id == 1 and by_id[3].objective == 15
    assert "its edits re-applied onto #2 are queued" in (by_id[3].reason or "")
    # ... and its edits re-applied onto #2 ran next, measured both changes together, and won.
    rebased = next(e for e in by_id.values() if e.strategy == "rebase")
    assert rebased.parent_id == 2 and rebased.extra["rebased_from"] == 3
    assert rebased.objective == 12 and rebased.decision == "kept"
    assert "A = 7" in branch_file(root) and "B = 5" in branch_file(root)
    # The study branch only ever moved to better candidates: kept objectives strictly fall.
    kept = [e.objective for e in sorted(by_id.values(), key=lambda e: e.finished_at or 0) if e.decision == "kept"]
    assert kept == sorted(kept, reverse=True) and len(set(kept)) == len(kept)


def test_a_kept_candidate_whose_edits_conflict_with_the_new_best_is_kept_as_measured(tmp_path: Path) -> None:
    fast_a = {"edits": {"target.py": target(a=7)}, "rationale": "A to 7"}  # cost 17
    slow_a = {"edits": {"target.py": target(a=5, delay=2.5)}, "rationale": "A to 5"}  # cost 15, same line
    root = code_study(tmp_path, [fast_a, slow_a], budget=5)
    Loop(load_spec(root)).run()
    by_id = {e.id: e for e in rows(root, "cm")}
    assert by_id[2].decision == "kept" and by_id[3].decision == "kept" and by_id[3].objective == 15
    assert "do not re-apply onto #2" in (by_id[3].reason or "") and "not tried" in (by_id[3].reason or "")
    assert not any(e.strategy == "rebase" for e in by_id.values())
    assert "A = 5" in branch_file(root)


class Repeater:
    """A proposer (in Python, like a paid LLM's) that always proposes c = 1 and reports tokens."""

    name = "repeater"

    def propose(self, context: object) -> Proposal:
        return Proposal(params={"c": 1}, rationale="c = 1 again", tokens_in=10, tokens_out=5)

    def observe(self, experiment: Experiment) -> None:
        pass


def test_a_duplicate_that_cost_tokens_is_recorded_as_rejected_not_run(tmp_path: Path) -> None:
    root = study(tmp_path, choices=3, workers=2, budget=4, hold=1.0)
    Loop(load_spec(root), proposer=Repeater()).run()
    experiments = rows(root, "par")
    assert [e.decision for e in experiments] == ["baseline", "reverted", "rejected", "rejected"]
    assert all(e.reason == "duplicate of experiment #2, which is running" for e in experiments[2:])
    assert all(e.tokens_in == 10 for e in experiments[1:])  # what they cost is counted
    assert [r["c"] for r in runs(tmp_path)] == [0, 1]  # only the first c = 1 ran
