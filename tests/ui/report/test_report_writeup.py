"""`autoresearch writeup`: the research note and its ablation, on real studies run through the CLI.

Every number the note states is checked against the store here, independently of the note's own
checker: prose and tables against the values in the store's rows (and simple figures made of them),
quoted store text (in backticks) against the store's raw text, the quoted question against the goal.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import subprocess
import textwrap
from pathlib import Path
from typing import Any

from autoresearch.ui.report.numbers import numbers_of, tokens
from tests.conftest import PYTHON, cli, study_rows, write_study
from tests.fake_llm import FakeLLMServer, Reply
from tests.test_examples import tracked_copy

SECTIONS = (
    "## Question",
    "## Setup",
    "## Results",
    "## Ablation",
    "## Kept chain",
    "## What was tried and failed",
    "## Threats to validity",
)

# -- the store's numbers, gathered without the writeup's code ------------------------------------


def _cells(db: sqlite3.Connection, table: str) -> list[Any]:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (table,)).fetchone()
    return [cell for row in db.execute(f"SELECT * FROM {table}").fetchall() for cell in row] if exists else []


def store_facts(study_dir: Path) -> tuple[set[float], str]:
    """(numbers held by the store or made of its values, the store's raw text)."""
    db = sqlite3.connect(study_dir / "study.db")
    try:
        cells = _cells(db, "experiments") + _cells(db, "meta") + _cells(db, "ablations")
        numbers = set(numbers_of(cells))
        for cell in cells:
            if isinstance(cell, str):
                with contextlib.suppress(ValueError):
                    numbers.add(float(cell))
        # Counts: rows by decision, by strategy, by strategy and decision, ablations by outcome.
        for query in (
            "SELECT COUNT(*) FROM experiments",
            "SELECT COUNT(*) FROM experiments GROUP BY decision",
            "SELECT COUNT(*) FROM experiments WHERE decision != 'baseline' GROUP BY strategy",
            "SELECT COUNT(*) FROM experiments GROUP BY strategy, decision",
            "SELECT COUNT(*) FROM experiments WHERE decision IN ('baseline', 'kept')",
            "SELECT COUNT(*) FROM experiments WHERE json_extract(extra, '$.strict_keep') = 1",
        ):
            numbers.update(float(row[0]) for row in db.execute(query).fetchall())
        if _cells(db, "ablations"):
            numbers.update(float(r[0]) for r in db.execute("SELECT COUNT(*) FROM ablations GROUP BY outcome"))
        objectives = [r[0] for r in db.execute("SELECT objective FROM experiments WHERE objective IS NOT NULL")]
        for a in objectives:  # differences and relative differences of two measured objectives
            for b in objectives:
                numbers.add(a - b)
                if b:
                    numbers.add((b - a) / abs(b))
        numbers.add(0.95)  # the confidence level of every interval: a method constant
        text = "\n".join(str(cell) for cell in cells if isinstance(cell, str))
    finally:
        db.close()
    return numbers, text


def _matches(token: Any, numbers: set[float]) -> bool:
    tolerance = 0.5 * 10.0 ** (-token.decimals) * (1 + 1e-9) + 1e-12
    candidates = [abs(v) for v in numbers] + ([abs(100 * v) for v in numbers] if token.percent else [])
    return any(abs(c - abs(token.value)) <= tolerance for c in candidates)


def assert_numbers_from_store(note: str, study_dir: Path, goal: str) -> None:
    numbers, raw = store_facts(study_dir)
    quoted = [line[1:] for line in note.splitlines() if line.startswith(">")]
    body = "\n".join(line for line in note.splitlines() if not line.startswith(">"))
    for token in tokens("\n".join(quoted)):
        assert token.text.lstrip("+-") in goal, f"quoted question states {token.text}, not in the goal"
    for span in re.findall(r"`([^`]*)`", body):
        for token in tokens(span):
            assert token.text.lstrip("+-") in raw, f"quoted {span!r} states {token.text}, not in the store's text"
    prose = re.sub(r"`[^`]*`", " ", body)
    prose = re.sub(r"!\[[^]]*\]\([^)]*\)", " ", prose)
    unknown = [t.text for t in tokens(prose) if not _matches(t, numbers)]
    assert not unknown, f"numbers in the note not found in the store: {unknown}"


def ablations(study_dir: Path) -> list[dict[str, Any]]:
    db = sqlite3.connect(study_dir / "study.db")
    db.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in db.execute("SELECT * FROM ablations ORDER BY id")]
    finally:
        db.close()
    for row in rows:
        row["record"] = json.loads(row["record"] or "{}")
    return rows


# -- studies --------------------------------------------------------------------------------------

# Mode "a" costs x's distance plus 1, mode "b" only y's: once #3 switches to "b", #2's x no longer matters.
MODES = """
import json, sys
p = json.load(open(sys.argv[1]))
if p["mode"] == "b" and p["x"] == 5.0 and CRASH:
    raise SystemExit("this combination was never run by the search")
print("loss:", (p["x"] - 1.0) ** 2 + 1.0 if p["mode"] == "a" else (p["y"] - 1.0) ** 2)
"""

MODES_PROPOSER = """
import json, sys
study = json.load(sys.stdin)
steps = [
    {"params": {"mode": "a", "x": 1.0, "y": 5.0}, "rationale": "x to its optimum", "strategy": "tune-x"},
    {"params": {"mode": "b", "x": 1.0, "y": 1.0}, "rationale": "mode b, y at its optimum", "strategy": "switch"},
    {"params": {"mode": "b", "x": 1.0, "y": 3.0}, "rationale": "y a bit off", "strategy": "tune-y"},
]
done = len([e for e in study["history"] if e["decision"] != "baseline"])
print(json.dumps(steps[done] if done < len(steps) else {"done": True}))
"""

GOAL = "Lower the loss of f.py over its 3 parameters."


def modes_study(root: Path, *, crash: bool = False, steps: int = 3, extra: str = "") -> Path:
    spec = f"""
    [study]
    name = "modes"
    goal_file = "program.md"
    [run]
    command = "{PYTHON} f.py {{params_file}}"
    timeout = "60s"
    [metric]
    name = "loss"
    [params]
    mode = {{ choices = ["a", "b"], default = "a" }}
    x = {{ low = -5.0, high = 5.0, default = 5.0 }}
    y = {{ low = -5.0, high = 5.0, default = 5.0 }}
    [proposer]
    use = "script:{PYTHON} propose.py"
    [budget]
    experiments = {steps + 1}
    [noise]
    confirm_pairs = 3
    {extra}
    """
    files = {
        "f.py": MODES.replace("CRASH", str(crash)),
        "propose.py": MODES_PROPOSER,
        "program.md": GOAL,
    }
    write_study(root, spec, files)
    done = cli("run", str(root), timeout=300)
    assert done.returncode == 0, done.stderr
    return root


def test_params_study_note_ablation_and_numbers(tmp_path: Path) -> None:
    root = modes_study(tmp_path / "modes")
    study_dir = root / ".autoresearch" / "modes"
    before = study_rows(study_dir)
    assert [e.decision for e in before] == ["baseline", "kept", "kept", "reverted"]

    done = cli("writeup", str(root), "--latex", timeout=300)
    assert done.returncode == 0, done.stderr
    note = (study_dir / "writeup" / "note.md").read_text()
    for section in SECTIONS:
        assert section in note, section
    assert (study_dir / "writeup" / "progress.png").stat().st_size > 1000
    assert "![" in note and "(progress.png)" in note
    assert f"> {GOAL}" in note
    assert "confirmed improvement | +100.0% (95% CI" in note  # confirm ran: the best is exactly 0
    assert_numbers_from_store(note, study_dir, GOAL)

    # Each kept change of the best's lineage was re-measured on 3 pairs (repeats = 1 gives no interval),
    # interleaved with the best, and the verdict in words says how sure it is.
    rows = ablations(study_dir)
    assert [(r["change_id"], r["outcome"]) for r in rows] == [(2, "passenger"), (3, "carrier")]
    assert all(r["best_id"] == 3 and len(r["record"]["a"]) == len(r["record"]["b"]) == 3 for r in rows)
    assert rows[0]["record"]["a"] == rows[0]["record"]["b"] == [0.0] * 3  # without #2: x back to 5, mode b: same
    assert rows[1]["record"]["b"] == [1.0] * 3  # without #3: mode a again (y back to 5, unused there): 0 + 1
    assert "| #2 | `x: 5.0 -> 1.0` | passenger |" in note
    assert re.search(r"\| #3 \| .*`mode: \"a\" -> \"b\"`.* \| carries the gain \|", note)
    assert re.search(r"Carry the gain: #3 \(\+[0-9.]+% \(95% CI [^)]+\), 3 pairs\)\.", note), note
    assert (study_dir / "ablations").is_dir()  # the runs' logs, apart from the experiments'

    # Nothing counts the ablation as experiments, the study resumes, and a second writeup reuses them.
    assert [e.id for e in study_rows(study_dir)] == [e.id for e in before]
    status = cli("status", str(root))
    assert "experiments 4 / 4" in status.stdout, status.stdout
    again = cli("writeup", str(root), timeout=300)
    assert again.returncode == 0 and "ablating" not in again.stderr and "confirming" not in again.stderr
    assert len(ablations(study_dir)) == 2
    resumed = cli("run", str(root), "--experiments", "5", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert len(study_rows(study_dir)) == 4  # the proposer has nothing more: no experiment was lost or doubled

    tex = (study_dir / "writeup" / "note.tex").read_text()
    assert "\\section{Ablation}" in tex and "\\includegraphics" in tex and tex.rstrip().endswith("\\end{document}")
    assert "\\#3" in tex and "carries the gain" in tex


def test_no_kept_change(tmp_path: Path) -> None:
    root = modes_study(tmp_path / "modes", steps=0, extra='[sandbox]\n    kind = "none"')
    study_dir = root / ".autoresearch" / "modes"
    done = cli("writeup", str(root), timeout=300)
    assert done.returncode == 0, done.stderr
    note = (study_dir / "writeup" / "note.md").read_text()
    for section in SECTIONS:
        assert section in note, section
    assert "There is no kept change to ablate: the best is the baseline." in note
    assert "No candidate beat the baseline" in note
    assert "| confirmed improvement | not measured |" in note
    assert "- sandbox: none" in note and "Sandbox kind `none`: runs were not isolated" in note
    assert_numbers_from_store(note, study_dir, GOAL)
    assert not _has_table(study_dir) or ablations(study_dir) == []


def test_ablation_run_that_crashes_is_reported_and_loses_nothing(tmp_path: Path) -> None:
    root = modes_study(tmp_path / "modes", crash=True)
    study_dir = root / ".autoresearch" / "modes"
    before = study_rows(study_dir)
    done = cli("writeup", str(root), timeout=300)
    assert done.returncode == 0, done.stderr
    note = (study_dir / "writeup" / "note.md").read_text()
    assert "| #2 | `x: 5.0 -> 1.0` | not measured: a run failed |" in note
    assert "the best without #2 failed to run: exit code 1: this combination was never run by the search" in note
    assert "Ablation gaps: #2 could not be measured." in note
    assert re.search(r"\| #3 \| .* \| carries the gain \|", note)
    assert_numbers_from_store(note, study_dir, GOAL)
    assert [(e.id, e.decision, e.objective) for e in study_rows(study_dir)] == [
        (e.id, e.decision, e.objective) for e in before
    ]
    # A failed ablation is measured again by the next writeup; a measured one is reused.
    again = cli("writeup", str(root), timeout=300)
    assert again.returncode == 0 and "ablating #2" in again.stderr and "ablating #3" not in again.stderr
    assert [(r["change_id"], r["outcome"]) for r in ablations(study_dir)] == [
        (2, "failed"),
        (3, "carrier"),
        (2, "failed"),
    ]


def test_no_ablation_measures_nothing(tmp_path: Path) -> None:
    root = modes_study(tmp_path / "modes")
    study_dir = root / ".autoresearch" / "modes"
    done = cli("writeup", str(root), "--no-ablation", timeout=300)
    assert done.returncode == 0, done.stderr
    note = (study_dir / "writeup" / "note.md").read_text()
    assert "The ablation was skipped (`--no-ablation`)" in note and "| #2 |" in note and "not measured" in note
    assert not _has_table(study_dir) or ablations(study_dir) == []
    assert_numbers_from_store(note, study_dir, GOAL)


def _has_table(study_dir: Path) -> bool:
    db = sqlite3.connect(study_dir / "study.db")
    try:
        return db.execute("SELECT 1 FROM sqlite_master WHERE name='ablations'").fetchone() is not None
    finally:
        db.close()


# -- code mode: one change carries the gain, the other is a passenger -------------------------------

SOLVER = """\
ITERATIONS = 1000


def slow(n):
    total = 0
    for i in range(n):
        total += i
    return n


def fast():
    return 10


def solve():
    return slow(ITERATIONS)
"""

CODE_PROPOSER = """
import json, sys
study = json.load(sys.stdin)
source = study["files"]["solver.py"]
steps = [
    (source.replace("ITERATIONS = 1000", "ITERATIONS = 500"), "halve the iterations", "fewer-iterations"),
    (source.replace("return slow(ITERATIONS)", "return fast()"), "take the fast path", "fast-path"),
]
done = len([e for e in study["history"] if e["decision"] != "baseline"])
if done >= len(steps):
    print(json.dumps({"done": True}))
else:
    text, why, strategy = steps[done]
    print(json.dumps({"edits": {"solver.py": text}, "rationale": why, "strategy": strategy}))
"""


def code_study(root: Path, noise: str = "confirm_pairs = 2") -> Path:
    spec = f"""
    [study]
    name = "work"
    goal = "Do less work in solve()."
    [run]
    command = "{{python}} bench.py"
    timeout = "60s"
    [metric]
    name = "work"
    [code]
    editable = ["solver.py"]
    protected = ["bench.py"]
    [proposer]
    use = "script:{PYTHON} propose.py"
    [budget]
    experiments = 3
    [noise]
    {noise}
    """
    files = {"solver.py": SOLVER, "bench.py": "from solver import solve\n\nprint('work:', solve())\n"}
    write_study(root, spec, files | {"propose.py": CODE_PROPOSER})
    (root / "solver.py").write_text(SOLVER)  # write_study dedents; this one is already flush
    for args in (["init", "-q"], ["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=root, check=True)
    done = cli("run", str(root), timeout=300)
    assert done.returncode == 0, done.stderr
    return root


def test_code_study_ablation_reverts_each_kept_commit(tmp_path: Path) -> None:
    root = code_study(tmp_path / "work")
    study_dir = root / ".autoresearch" / "work"
    assert [(e.decision, e.objective) for e in study_rows(study_dir)] == [
        ("baseline", 1000.0),
        ("kept", 500.0),
        ("kept", 10.0),
    ]
    done = cli("writeup", str(root), timeout=300)
    assert done.returncode == 0, done.stderr
    note = (study_dir / "writeup" / "note.md").read_text()
    for section in SECTIONS:
        assert section in note, section
    assert_numbers_from_store(note, study_dir, "")
    rows = ablations(study_dir)
    # Without #2 (ITERATIONS back to 1000) the fast path ignores it: a passenger. Without #3 the slow
    # path runs again, with #2's 500 iterations: #3 carries the gain.
    assert [(r["change_id"], r["outcome"]) for r in rows] == [(2, "passenger"), (3, "carrier")]
    assert rows[0]["record"]["b"] == [10.0] * 3 and rows[1]["record"]["b"] == [500.0] * 3  # 3 pairs each
    variants = [json.loads(r["variant"]) for r in rows]
    assert "-ITERATIONS = 500" in variants[0]["diff"] and "+ITERATIONS = 1000" in variants[0]["diff"]
    assert "-    return fast()" in variants[1]["diff"] and "+    return slow(ITERATIONS)" in variants[1]["diff"]
    # Each variant is a commit of the study's own refs, built on the best's; the user's branch is untouched.
    refs = subprocess.run(["git", "for-each-ref", "--format=%(refname)"], cwd=root, capture_output=True, text=True)
    assert "refs/autoresearch/work/ablation-3-2" in refs.stdout and "refs/autoresearch/work/ablation-3-3" in refs.stdout
    head = subprocess.run(["git", "log", "--oneline"], cwd=root, capture_output=True, text=True).stdout
    assert len(head.splitlines()) == 1
    assert "| #2 | `solver.py`: `-ITERATIONS = 1000` `+ITERATIONS = 500` | passenger |" in note
    assert "| #3 | `solver.py`: `- return slow(ITERATIONS)` `+ return fast()` | carries the gain |" in note


def test_code_study_ablation_under_the_paired_rule(tmp_path: Path) -> None:
    root = code_study(tmp_path / "work", noise='rule = "paired"\n    confirm_pairs = 2')
    study_dir = root / ".autoresearch" / "work"
    assert [e.decision for e in study_rows(study_dir)] == ["baseline", "kept", "kept"]
    done = cli("writeup", str(root), timeout=300)
    assert done.returncode == 0, done.stderr
    rows = ablations(study_dir)
    assert [(r["change_id"], r["outcome"]) for r in rows] == [(2, "passenger"), (3, "carrier")]
    for row in rows:  # interleaved pairs, each in a random order, as the rule decides a keep
        record = row["record"]
        assert record["pairs"] >= 4 and len(record["a"]) == len(record["b"]) == len(record["order"])
        assert set(record["order"]) <= {"AB", "BA"} and row["rule"].startswith("paired")
    assert rows[0]["record"]["b"] == rows[0]["record"]["a"] == [10.0] * rows[0]["record"]["pairs"]
    assert "interleaved pairs vs the best without #3" in rows[1]["reason"] and "better: paired p" in rows[1]["reason"]
    note = (study_dir / "writeup" / "note.md").read_text()
    assert "(`paired (pairs 4 to 16)`)" in note
    assert re.search(r"\| #3 \| .* \| carries the gain \| \+98\.0% \(95% CI \+98\.0% to \+98\.0%\), 4 pairs \|", note)
    assert_numbers_from_store(note, study_dir, "")


def test_code_change_that_no_longer_reverts_cleanly_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "work"
    code_study(root)
    study_dir = root / ".autoresearch" / "work"
    # A third kept change rewrites #2's line: undoing #2 now conflicts with it.
    proposer = CODE_PROPOSER.replace(
        '"fast-path"),\n]',
        '"fast-path"),\n    (source.replace("ITERATIONS = 500", "ITERATIONS = 400").replace("return 10", "return 5"),'
        ' "fewer still", "again"),\n]',
    )
    (root / "propose.py").write_text(textwrap.dedent(proposer))
    done = cli("run", str(root), "--experiments", "4", timeout=300)
    assert done.returncode == 0, done.stderr
    assert [e.decision for e in study_rows(study_dir)][-1] == "kept"
    written = cli("writeup", str(root), timeout=300)
    assert written.returncode == 0, written.stderr
    rows = {r["change_id"]: r for r in ablations(study_dir) if r["best_id"] == 4}
    assert rows[2]["outcome"] == "conflict" and "does not merge cleanly" in rows[2]["reason"]
    assert rows[2]["record"] == {}  # nothing was run for it
    note = (study_dir / "writeup" / "note.md").read_text()
    assert "| #2 |" in note and "not measured: does not revert cleanly" in note
    assert_numbers_from_store(note, study_dir, "")


# -- prose by an LLM, checked against the store --------------------------------------------------


def _prose(**sections: str) -> str:
    base = {
        "abstract": "The best, #3, reached 0 from the baseline's 17.",
        "results": "Of the 4 experiments, 2 were kept.",
        "ablation": "Removing #3 costs the gain; #2 is a passenger.",
        "threats": "Each candidate ran once, so noise may have decided some keeps.",
    }
    return json.dumps(base | sections)


def test_llm_prose_is_used_when_its_numbers_are_in_the_store(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    root = modes_study(tmp_path / "modes")
    study_dir = root / ".autoresearch" / "modes"
    fake_llm.script(Reply(text=_prose()))
    done = cli("writeup", str(root), "--llm", "llm:vllm/writer", "--llm-base-url", fake_llm.openai_url)
    assert done.returncode == 0, done.stderr
    note = (study_dir / "writeup" / "note.md").read_text()
    assert note.splitlines()[2] == "The best, #3, reached 0 from the baseline's 17."
    assert "Removing #3 costs the gain; #2 is a passenger." in note
    assert "Prose of abstract, results, ablation, threats written by `vllm/writer`" in note
    prompt = fake_llm.requests[0].prompt_text
    assert "carries the gain" in prompt and "x to its optimum" in prompt and GOAL in prompt
    assert_numbers_from_store(note, study_dir, GOAL)


def test_llm_prose_with_an_invented_number_falls_back_to_the_template(tmp_path: Path, fake_llm: FakeLLMServer) -> None:
    root = modes_study(tmp_path / "modes")
    study_dir = root / ".autoresearch" / "modes"
    invented = "The best improved by 987.6% over 12,345 trials."
    fake_llm.script(Reply(text=_prose(abstract=invented)))
    done = cli("writeup", str(root), "--llm", "llm:vllm/writer", "--llm-base-url", fake_llm.openai_url)
    assert done.returncode == 0, done.stderr
    assert "987.6%" in done.stderr and "12,345" in done.stderr and "abstract" in done.stderr
    note = (study_dir / "writeup" / "note.md").read_text()
    assert "987.6" not in note and "12,345" not in note
    assert note.splitlines()[2].startswith("Study `modes` ran 4 experiments")  # the template's abstract
    assert "Removing #3 costs the gain; #2 is a passenger." in note  # the other sections pass
    assert "its text for abstract stated numbers that are not in the store" in note
    assert_numbers_from_store(note, study_dir, GOAL)

    # An LLM that fails leaves the template's prose and says so; the note is still written.
    fake_llm.script(*[Reply(status=500)] * 4)
    failed = cli("writeup", str(root), "--llm", "llm:vllm/writer", "--llm-base-url", fake_llm.openai_url)
    assert failed.returncode == 0 and "the LLM wrote no prose" in failed.stderr, failed.stderr


# -- the quickstart example ---------------------------------------------------------------------------


def test_quickstart_writeup(tmp_path: Path) -> None:
    root = tracked_copy("quickstart", tmp_path / "quickstart")
    spec = root / "autoresearch.toml"
    spec.write_text(spec.read_text() + "\n[noise]\nconfirm_pairs = 2\n")
    done = cli("run", "--experiments", "6", str(root), timeout=600)
    assert done.returncode == 0, done.stderr
    study_dir = root / ".autoresearch" / "digits-mlp"
    experiments = study_rows(study_dir)
    written = cli("writeup", str(root), "--latex", timeout=600)
    assert written.returncode == 0, written.stderr
    note = (study_dir / "writeup" / "note.md").read_text()
    for section in SECTIONS:
        assert section in note, section
    goal = (root / "program.md").read_text()
    assert_numbers_from_store(note, study_dir, goal)
    assert [e.id for e in study_rows(study_dir)] == [e.id for e in experiments]
    by_id = {e.id: e for e in experiments}
    best = max((e for e in experiments if e.decision in ("baseline", "kept")), key=lambda e: e.finished_at or 0)
    lineage = []
    node = best
    while node.parent_id is not None:
        if node.decision == "kept":
            lineage.append(node.id)
        node = by_id[node.parent_id]
    rows = ablations(study_dir) if lineage else []
    assert sorted(r["change_id"] for r in rows) == sorted(lineage)
    for row in rows:  # each kept change: re-measured against the best, or nothing of it is left
        change = by_id[row["change_id"]]
        parent = by_id[change.parent_id or 0]
        assert change.params is not None and parent.params is not None and best.params is not None
        moved = {k for k, v in change.params.items() if parent.params.get(k) != v}
        survives = {k for k in moved if best.params.get(k) == change.params[k]}
        if not survives:
            assert row["outcome"] == "superseded"
            continue
        a, b = row["record"]["a"], row["record"]["b"]
        assert len(a) == len(b) == 3  # strict rule, one repeat: at least 3 interleaved pairs all the same
        mean_a, mean_b = sum(a) / 3, sum(b) / 3
        expected = "carrier" if mean_a < mean_b else "harmful" if mean_b < mean_a else "passenger"
        assert row["outcome"] == expected, row


# -- threats to validity, from a synthetic store --------------------------------------------------


def test_threats_name_divergence_flags_and_suspicious_gains(tmp_path: Path) -> None:
    from autoresearch.spec import snapshot_of
    from autoresearch.ui.report.writeup import write_note
    from tests.support.synthetic import make_study, synthetic_spec_dict
    from tests.ui.conftest import make_spec

    spec = make_spec(tmp_path)
    store = make_study(spec.study_dir, 60, seed=1, diverge_after=2)
    try:
        kept = [e for e in store.experiments() if e.decision == "kept"]
        flagged = kept[0]
        store.update(flagged.id, extra=flagged.extra | {"flags": ["suspicious: the gain is 9.1 standard deviations"]})
        store.set_meta("sandbox", "bwrap")
        # What `run` records of the spec (the synthetic writer is not the loop).
        store.set_meta("spec_snapshot", snapshot_of(spec, synthetic_spec_dict()).model_dump_json())
        written = write_note(spec, store, tmp_path / "out", ablation_skipped=True)
    finally:
        store.close()
    note = written.markdown.read_text()
    assert "- Holdout divergence: DIVERGENCE: since #" in note
    assert f"- Integrity flags: 1 experiment was flagged (#{flagged.id})" in note
    assert f"- Suspicious gains: 1 gain was implausibly large for the history (#{flagged.id})" in note
    assert "Winner's curse: the best was picked as the best of many noisy measurements" in note
    assert "sandbox: bwrap" in note and "Sandbox kind `none`" not in note
    assert_numbers_from_store(note, spec.study_dir, "")


# -- the pieces: numbers in text, the number book, LaTeX -------------------------------------------


def test_numbers_are_read_as_prose_writes_them_and_checked_at_their_precision() -> None:
    from autoresearch.ui.report.numbers import NumberBook

    found = [(t.text, t.value, t.decimals, t.percent) for t in tokens("#12 is +23.4% (1,234 runs; lr 1e-4, log10 v2)")]
    assert found == [
        ("12", 12.0, 0, False),
        ("+23.4%", 23.4, 1, True),
        ("1,234", 1234.0, 0, False),
        ("1e-4", 1e-4, 4, False),
    ]
    book = NumberBook()
    book.add(0.23412, 12, {"runs": [1234]}, '{"lr": 0.0001}', True)
    assert book.unknown("#12 is +23.4% over 1,234 runs at lr 0.0001; 0.234 and 0.2341") == []
    assert book.unknown("23.5% and 0.2342 and 13 and 1") == ["23.5%", "0.2342", "13", "1"]  # True is no number
    assert book.unknown("quoted `99.9` is not a claim") == [] and book.unknown("`99.9`", quotes_too=True) == ["99.9"]


def test_latex_escapes_what_the_store_may_hold() -> None:
    from autoresearch.ui.report import note as n

    tex = n.to_latex(
        "a_b & c", [n.paragraph("50% of `x_1 → {y}` and **#3** — done…"), n.table(["a", "b"], [["$", "~"]])]
    )
    assert r"\title{a\_b \& c}" in tex
    assert r"50\% of \texttt{x\_1 $\rightarrow$ \{y\}} and \textbf{\#3} --- done\ldots{}" in tex
    assert r"\$ & \textasciitilde{} \\" in tex and "→" not in tex


def test_a_verdict_in_words_says_how_sure_it_is() -> None:
    # The prose never says "carries the gain" or "harmful" alone: the figure, its interval and the pairs
    # come with it, and a verdict whose interval does not exclude noise says that it is the rule's only.
    from autoresearch.store.database import Ablation
    from autoresearch.ui.report.prose import _sure

    def made(change: int, record: dict[str, Any]) -> Ablation:
        return Ablation(1, 9, change, "strict", "done", 0.0, outcome="carrier", record=record)

    measured = {
        3: made(3, {"effect": 0.054, "low": -0.019, "high": 0.122, "pairs": 3}),
        7: made(7, {"effect": 0.2, "low": 0.15, "high": 0.25, "pairs": 4}),
    }

    class Facts:
        def ablation_of(self, change: int) -> Ablation | None:
            return measured.get(change)

    assert _sure(Facts(), [3, 7, 8]) == (  # type: ignore[arg-type]
        "#3 (+5.4% (95% CI -1.9% to +12.2%), 3 pairs; by the rule only, its interval does not exclude noise), "
        "#7 (+20.0% (95% CI +15.0% to +25.0%), 4 pairs), #8"
    )
