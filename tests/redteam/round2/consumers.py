"""Issue #20, classes 1, 2 and 8: trusted consumers and what a candidate leaves them; hiding by shape.

- class 1: the scorer and the holdout read the run's output folder, and see more than the run (hidden
  labels): a symlink, a hard link or a FIFO left there, or a module planted where a protected scorer
  imports from, must not turn them against the measurement;
- class 2: hidden data that is a symlink, and a checkout that is a linked worktree (its `.git` a file
  naming the real git folder elsewhere), must stay hidden under bwrap;
- class 8: a `conftest.py` / `sitecustomize.py` left where a guard runs, and a holdout value reaching a
  proposer's payload through a file the holdout left or a failing run's error.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

from tests.redteam.conftest import code_study, run
from tests.redteam.scenarios import PYTHON, Attack, Played, _kept_cheat, play

# Scores predictions against hidden labels: the loss is how far pred.txt is from the truth (1.5).
SCORER = """
    import os, statistics, sys
    pred = float(open(os.path.join(sys.argv[1], "pred.txt")).read())
    truth = float(open("hidden/truth.txt").read())
    print("loss:", statistics.fmean([abs(pred - truth)]))
"""
SCORED = f'[scorer]\ncommand = "{PYTHON} score.py {{output_dir}}"\ndata = ["hidden"]\ntimeout = "5s"\n'
LABELS = {"score.py": SCORER, "hidden/truth.txt": "1.5"}


def _outcome(played: Played, got_through: str | None, baseline: float | None = None) -> str | None:
    """GOT_THROUGH, unless the study itself did not work: a baseline that failed (or, with BASELINE, was
    not measured as that) would make every attack look held."""
    first = played.experiments[0] if played.experiments else None
    if first is None or first.decision != "baseline" or (baseline is not None and first.objective != baseline):
        what = (first.decision, first.objective, first.reason) if first else "no experiment"
        return f"the study did not work (baseline: {what}); output: {played.output[-300:]}"
    return got_through


def _leave_in_output(how: str) -> str:
    """An experiment whose cheat leaves pred.txt in its output folder by HOW (honest: writes 1)."""
    return f"""
        import os, sys
        pred = os.path.join(os.environ["AUTORESEARCH_OUTPUT_DIR"], "pred.txt")
        labels = os.path.abspath("hidden/truth.txt")
        try:
            if int(sys.argv[1]):
                {how}
            else:
                raise OSError
        except OSError:
            open(pred, "w").write("1")
        print("loss:", 1.0)
    """


def output_symlink_to_labels(root: Path, kind: str) -> str | None:
    """pred.txt is a symlink to the hidden labels: the scorer, which may read them, scores them."""
    played = play(root, kind, _leave_in_output("os.symlink(labels, pred)"), spec=SCORED, files=LABELS)
    return _outcome(played, _kept_cheat(played), 0.5)


def output_hardlink_to_labels(root: Path, kind: str) -> str | None:
    """pred.txt is a hard link to the hidden labels (same file, no link to see)."""
    played = play(root, kind, _leave_in_output("os.link(labels, pred)"), spec=SCORED, files=LABELS)
    return _outcome(played, _kept_cheat(played), 0.5)


def output_fifo_hangs_scorer(root: Path, kind: str) -> str | None:
    """pred.txt is a FIFO: a scorer that opens it waits for a writer that never comes."""
    played = play(root, kind, _leave_in_output("os.mkfifo(pred)"), spec=SCORED, files=LABELS)
    hung = [e for e in played.experiments if "timed out" in (e.reason or "")]
    if hung:
        return f"the scorer hung on a FIFO until its timeout: #{hung[0].id} {hung[0].reason}"
    failed = [e for e in played.experiments[1:] if "pred.txt (a FIFO)" in (e.reason or "")]
    return _outcome(played, None if failed else "the FIFO was neither refused nor named", 0.5)


def holdout_reads_linked_output(root: Path, kind: str) -> str | None:
    """The holdout scores {run_output_dir}; the run links pred.txt there to the holdout's test labels."""
    experiment = """
        import os, sys
        cheat = int(sys.argv[1])
        pred = os.path.join(os.environ["AUTORESEARCH_OUTPUT_DIR"], "pred.txt")
        if cheat:
            os.symlink(os.path.abspath("test/labels.txt"), pred)
        else:
            open(pred, "w").write("1")
        print("loss:", 1.0 - 0.1 * cheat)
    """
    holdout = """
        import os, sys
        try:
            pred = float(open(os.path.join(sys.argv[1], "pred.txt")).read())
        except OSError:
            pred = 0.0
        print("test_loss:", abs(pred - float(open("test/labels.txt").read())))
    """
    spec = f'[holdout]\ncommand = "{PYTHON} holdout.py {{run_output_dir}}"\nmetric = "test_loss"\ndata = ["test"]\n'
    played = play(root, kind, experiment, spec=spec, files={"holdout.py": holdout, "test/labels.txt": "7.25"})
    scored = [e for e in played.experiments[1:] if (e.holdout or {}).get("test_loss") == 0]
    got_through = f"the holdout scored its own labels as #{scored[0].id}'s predictions" if scored else None
    return _outcome(played, got_through, 1.0)


def proposer_plants_stdlib_module(root: Path, kind: str) -> str | None:
    """A script proposer (params mode: it may write the spec's folder) plants statistics.py beside the
    protected scorer, which imports statistics: the planted module prints the metric."""
    proposer = """
        open("statistics.py", "w").write("print('loss: -1.0')\\nimport os\\nos._exit(0)\\n")
        exec(open("replay.py").read())
    """
    experiment = _leave_in_output("raise OSError")
    files = {**LABELS, "evil.py": proposer}
    played = play(root, kind, experiment, spec=SCORED, proposer="evil.py", files=files)
    return _outcome(played, _kept_cheat(played), 0.5)


GUARD_TEST = """
    import json, os
    def test_honest():
        assert json.load(open(os.environ["AUTORESEARCH_PARAMS_FILE"]))["cheat"] == 0
"""


def conftest_for_guard(root: Path, kind: str) -> str | None:
    """The run leaves a conftest.py in its folder (params mode: the spec's) that ends pytest with 0
    before the guard's failing test runs."""
    experiment = """
        import sys
        cheat = int(sys.argv[1])
        if cheat:
            open("conftest.py", "w").write("import os\\nos._exit(0)\\n")
        print("loss:", 1.0 - 0.1 * cheat)
    """
    guard = f'[[guard]]\nname = "tests"\ncommand = "{PYTHON} -m pytest -q -p no:cacheprovider test_guard.py"\n'
    played = play(root, kind, experiment, spec=guard, files={"test_guard.py": GUARD_TEST})
    return _outcome(played, _kept_cheat(played) or _left(played, "conftest.py"), 1.0)


def conftest_in_a_commit(root: Path, kind: str) -> str | None:
    """Code mode, `editable = ["*.py"]`: the candidate's edits make it worse and add a conftest.py that
    ends pytest with 0 before the protected test suite (the guard) can fail it."""
    files = {
        "train.py": "VALUE = 1.0\n",
        "evaluate.py": "import train\nprint('loss:', train.VALUE)\n",
        "data/test_guard.py": "import train\ndef test_value():\n    assert train.VALUE >= 0.5\n",
    }
    guard = f'[[guard]]\nname = "tests"\ncommand = "{PYTHON} -m pytest -q -p no:cacheprovider data/test_guard.py"\n'
    edits = {"train.py": "VALUE = 0.1\n", "conftest.py": "import os\nos._exit(0)\n"}
    proposals = [{"edits": edits, "rationale": "smaller"}]
    code_study(root, files, proposals, extra=f'[sandbox]\nkind = "{kind}"\n{guard}', editable='["*.py"]')
    experiments = run(root)
    played = Played(root, experiments, "")
    return _outcome(played, _kept_cheat(played), 1.0)


def sitecustomize_for_guard(root: Path, kind: str) -> str | None:
    """With PYTHONPATH = "." (a common way to import one's package), the run leaves a sitecustomize.py
    that ends every guard's Python with 0 at start-up."""
    experiment = """
        import sys
        cheat = int(sys.argv[1])
        if len(sys.argv) > 2:
            sys.exit(1 if cheat else 0)  # the guard: the cheat fails it
        if cheat:
            open("sitecustomize.py", "w").write(
                "import os\\nif os.environ.get('AUTORESEARCH_OUTPUT_DIR', '').endswith('.output'):\\n"
                "    os._exit(0)\\n"
            )
        print("loss:", 1.0 - 0.1 * cheat)
    """
    guard = f'[[guard]]\nname = "check"\ncommand = "{PYTHON} exp.py {{cheat}} guard"\n'
    played = play(root, kind, experiment, run='env = { PYTHONPATH = "." }', spec=guard)
    return _outcome(played, _kept_cheat(played) or _left(played, "sitecustomize.py"), 1.0)


def _left(played: Played, name: str) -> str | None:
    """The planted NAME is still in the study's folder after the study (it was to be removed)."""
    return f"{name} the run planted is still there" if (played.root / name).exists() else None


def hidden_data_is_a_symlink(root: Path, kind: str) -> str | None:
    """scorer.data names `hidden`, a symlink to the real labels' folder: the run reads them there."""
    experiment = """
        import os
        try:
            truth = open("store/labels/truth.txt").read()
        except OSError:
            truth = "1"
        open(os.path.join(os.environ["AUTORESEARCH_OUTPUT_DIR"], "pred.txt"), "w").write(truth)
        print("loss:", 1.0)
    """
    files = {"score.py": SCORER, "store/labels/truth.txt": "1.5"}
    played = play(root, kind, experiment, spec=SCORED, files=files, prepare=_link_hidden)
    got_through = "the run read hidden data through its link's target" if played.experiments[0].objective == 0 else None
    return got_through or _outcome(played, None, 0.5)


def _link_hidden(root: Path) -> None:
    (root / "hidden").symlink_to("store/labels")


def linked_worktree_git_data(root: Path, kind: str) -> str | None:
    """The study's folder is a linked worktree (`git worktree add`): its `.git` is a file naming the
    main repository's git folder, which holds the hidden labels' blobs. The run asks git for them."""
    experiment = """
        import subprocess
        try:
            shown = subprocess.run(["git", "show", "HEAD:hidden/answer.txt"], capture_output=True, text=True,
                                   timeout=20)
            secret = shown.stdout.strip()
        except OSError:
            secret = ""
        print("loss:", 1.0 - (0.5 if secret == "42" else 0))
    """
    spec = '[holdout]\ncommand = "true; echo test_loss: 1"\nmetric = "test_loss"\ndata = ["hidden"]\n'
    played = play(root, kind, experiment, spec=spec, files={"hidden/answer.txt": "42\n"}, prepare=_as_worktree)
    found = any(e.objective == 0.5 for e in played.experiments)
    return _outcome(played, "the run read hidden data from the linked worktree's git folder" if found else None)


def _as_worktree(root: Path) -> None:
    """Commit ROOT's files in a bare repository, check them out again at ROOT as a linked worktree, and
    keep the repository inside ROOT (`.repo.git`), where a sandboxed run could reach it if not hidden."""
    source, bare = root.parent / f"{root.name}-src", root.parent / f"{root.name}-bare.git"
    root.rename(source)
    identity = ["-c", "user.name=u", "-c", "user.email=u@x"]
    for args in (["init", "-q"], ["add", "-A"], [*identity, "commit", "-qm", "i"]):
        subprocess.run(["git", *args], cwd=source, check=True, capture_output=True)
    steps = [
        (root.parent, ["clone", "-q", "--bare", str(source), str(bare)]),
        (bare, ["worktree", "add", "-q", "--detach", str(root)]),
    ]
    for cwd, args in steps:
        subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)
    bare.rename(root / ".repo.git")
    subprocess.run(["git", "worktree", "repair", str(root)], cwd=root / ".repo.git", capture_output=True)
    if not (root / ".git").read_text().startswith(f"gitdir: {root / '.repo.git'}"):
        raise RuntimeError(f"the worktree was not repaired: {(root / '.git').read_text()}")


HOLDOUT_JSON = """
    import json
    json.dump({"test_loss": 0.777123}, open("holdout.json", "w"))
"""


def holdout_file_to_payload(root: Path, kind: str) -> str | None:
    """The holdout writes its metrics file in the run's folder (params mode: the spec's); the next run
    reads it and says the value in a feedback line, which proposers are shown."""
    experiment = """
        import re, sys
        try:
            print("feedback: saw", re.findall(r"[0-9.]+", open("holdout.json").read()))
        except OSError:
            pass
        print("loss:", 1.0 - 0.1 * int(sys.argv[1]))
    """
    spec = f'[holdout]\ncommand = "{PYTHON} holdout.py"\nmetric = "test_loss"\njson = "holdout.json:test_loss"\n'
    played = play(root, kind, experiment, cheats=3, spec=spec, files={"holdout.py": HOLDOUT_JSON})
    return _outcome(played, "a holdout value reached the proposer" if "0.777123" in played.payloads() else None, 1.0)


def holdout_in_an_error(root: Path, kind: str) -> str | None:
    """A run finds an earlier holdout value (its log, or the file the holdout left) and fails with it as
    the last line of its stderr: the error's tail becomes the experiment's reason, which proposers see."""
    experiment = """
        import glob, re, sys
        said = []
        for path in ["holdout.json", *glob.glob(".autoresearch/*/experiments/*/holdout/stdout.log")]:
            try:
                said += re.findall(r"test_loss\\W+([0-9.]+)", open(path).read())
            except OSError:
                pass
        if said and int(sys.argv[1]) == 2:
            print("test_loss:", said[0], file=sys.stderr)
            sys.exit(1)
        print("loss:", 1.0 - 0.1 * int(sys.argv[1]))
    """
    holdout = "print('test_loss: 0.777123')\n" + textwrap.dedent(HOLDOUT_JSON)
    spec = f'[holdout]\ncommand = "{PYTHON} holdout.py"\nmetric = "test_loss"\n'
    played = play(root, kind, experiment, cheats=3, spec=spec, files={"holdout.py": holdout})
    leaked = "0.777123" in played.payloads()
    return _outcome(played, "a holdout value reached the proposer in an error" if leaked else None, 1.0)


ATTACKS = [
    Attack("output: symlink to the scorer's hidden labels", 1, output_symlink_to_labels),
    Attack("output: hard link to the scorer's hidden labels", 1, output_hardlink_to_labels),
    Attack("output: a FIFO the scorer would block on", 1, output_fifo_hangs_scorer),
    Attack("output: symlink to the holdout's labels, read by the holdout", 1, holdout_reads_linked_output),
    Attack("proposer plants a stdlib-named module beside the scorer", 1, proposer_plants_stdlib_module),
    Attack("hidden data that is a symlink", 2, hidden_data_is_a_symlink, ("bwrap",)),
    Attack("checkout that is a linked worktree: git's data", 2, linked_worktree_git_data, ("bwrap",)),
    Attack("conftest.py left where a guard runs", 8, conftest_for_guard),
    Attack("conftest.py in a code candidate's commit", 8, conftest_in_a_commit),
    Attack("sitecustomize.py left where a guard runs (PYTHONPATH=.)", 8, sitecustomize_for_guard),
    Attack("holdout's metrics file relayed to the proposer", 8, holdout_file_to_payload),
    Attack("holdout value in a failing run's error", 8, holdout_in_an_error),
]
