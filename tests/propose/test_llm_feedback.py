"""LLM prompts carry what the runs reported: feedback, metric curves and log tails, never the holdout's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from autoresearch.engine.loop import Loop
from autoresearch.spec import load_spec
from autoresearch.store.database import Store
from tests.conftest import PYTHON, cli, write_study
from tests.fake_llm import FakeLLMServer, Reply, Request

EXPERIMENT = """
import json, os, sys
x = json.load(open(sys.argv[1]))["x"]
for step in range(20):
    print("train_loss:", round(abs(x - 3.0) + 2.0 / (step + 1), 4))
# A run that re-prints holdout-looking text: none of it may reach the proposer.
print("holdout_acc: 0.5")
print("feedback: holdout_acc was 0.5 PLANTED-HOLDOUT-NOTE")
print(f"feedback: x={x} distance {abs(x - 3.0):.2f} FEEDBACK-MARK")
with open(os.path.join(os.environ["AUTORESEARCH_OUTPUT_DIR"], "feedback.txt"), "w") as out:
    out.write(f"file feedback for x={x} FILE-MARK\\n")
print(f"TAIL-MARK-{x}")
if x == 4.0:
    sys.exit("ValueError: x=4 is cursed FAIL-MARK")
print("loss:", abs(x - 3.0))
"""

HOLDOUT = """
print("feedback: HOLDOUT-SECRET-TEXT")
print("holdout_acc: 0.913579")
"""


def answers():  # type: ignore[no-untyped-def]
    values = iter([5.0, 4.0, 2.5, 3.5, 3.1, 1.0])

    def answer(request: Request) -> Reply:
        x = next(values)
        return Reply(text=json.dumps({"rationale": f"move x to {x}", "params": {"x": x}}))

    return answer


def test_prompts_carry_feedback_curves_and_tails_but_no_holdout_text(
    tmp_path: Path, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    fake_llm.responder = answers()
    root = write_study(
        tmp_path / "fb",
        f"""
        [study]
        name = "fb"
        goal = "Find x that lowers the loss."
        [run]
        command = "{PYTHON} exp.py {{params_file}}"
        [metric]
        name = "loss"
        [params]
        x = {{ low = 0.0, high = 10.0, default = 9.0 }}
        [holdout]
        command = "{PYTHON} holdout.py"
        metric = "holdout_acc"
        [profile]
        command = "{PYTHON} -m cProfile -s cumtime exp.py {{params_file}}"
        top = 8
        [sandbox]
        kind = "none"
        [proposer]
        use = "llm:openai/gpt-4.1-mini"
        pipeline = false  # each prompt sees every result before it
        [proposer.options]
        base_url = "{fake_llm.openai_url}"
        lessons_every = 0
        [budget]
        experiments = 6
        """,
        {"exp.py": EXPERIMENT, "holdout.py": HOLDOUT},
    )
    Loop(load_spec(root)).run()
    experiments = Store(root / ".autoresearch" / "fb").experiments()
    assert [e.decision for e in experiments] == ["baseline", "kept", "failed", "kept", "reverted", "kept"]
    kept = experiments[3]
    assert kept.holdout == {"holdout_acc": 0.913579}
    assert "FEEDBACK-MARK" in kept.extra["feedback"] and "FILE-MARK" in kept.extra["feedback"]
    assert kept.extra["series"]["train_loss"]["n"] == 20

    prompts = [request.last_user for request in fake_llm.requests]
    # After the failure (#3), with #2 as the incumbent: #2's materials and #3's failure.
    third = prompts[2]
    assert "# What the runs reported" in third
    assert "x=5.0 distance 2.00 FEEDBACK-MARK" in third and "file feedback for x=5.0 FILE-MARK" in third
    assert "train_loss: 20 values, start 4, min 2.1 (at 100%), end 2.1" in third
    assert "TAIL-MARK-5.0" in third
    # The incumbent's profile: cProfile's header and its top 8 rows, nothing of the program's own output.
    assert "Where the time goes (its profile, top entries):" in third
    profile = third.split("Where the time goes (its profile, top entries):\n```\n", 1)[1].split("```", 1)[0]
    assert "function calls" in profile and "ncalls  tottime  percall  cumtime  percall" in profile
    assert len(profile.strip().splitlines()) == 1 + 1 + 8 and "exp.py" in profile and "FEEDBACK-MARK" not in profile
    assert all("profile" not in e.extra for e in experiments if e.decision not in ("baseline", "kept"))
    assert "Recent failed experiment #3" in third and "FAIL-MARK" in third and "TAIL-MARK-4.0" in third
    # The incumbent changes: the last prompt (for #6) shows #4's materials (x=2.5), and #3's failure still.
    assert "The version you are changing (#4, kept)" in prompts[-1] and "TAIL-MARK-2.5" in prompts[-1]
    assert "FAIL-MARK" in prompts[-1]
    for prompt in prompts:
        for leak in ("HOLDOUT-SECRET-TEXT", "0.913579", "holdout_acc", "PLANTED-HOLDOUT-NOTE"):
            assert leak not in prompt
    # The transcript saved with experiment #4 is what the server received.
    saved = json.loads((Path(experiments[3].log_dir or "") / "prompt.json").read_text())
    assert saved[-1]["content"] == prompts[2]
    assert len(third) < 60_000

    shown = cli("show", "4", str(root))
    assert shown.returncode == 0, shown.stderr
    assert "feedback   [run]\n           x=2.5 distance 0.50 FEEDBACK-MARK" in shown.stdout
    assert "curve      train_loss: 20 values" in shown.stdout

    reported = cli("report", str(root))
    assert reported.returncode == 0, reported.stderr
    markdown = next((root / ".autoresearch" / "fb").glob("**/report.md")).read_text()
    assert "- curve `train_loss: 20 values, start 4, min 2.1" in markdown
    assert "x=2.5 distance 0.50 FEEDBACK-MARK" in markdown
    html = next((root / ".autoresearch" / "fb").glob("**/report.html")).read_text()
    assert "train_loss: 20 values" in html and "<summary>feedback</summary>" in html
