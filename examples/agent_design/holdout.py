"""The holdout: the agent on the held-out split, whose answers it must not be able to read.

    python holdout.py OUTPUT_DIR

This process is shown holdout/ (questions and answers); no other process is. It runs the agent (the
harness, in a child process) on holdout/questions.json and scores its answers against
holdout/answers.json, read before the agent starts. The agent is candidate code, so under bubblewrap
the child runs in a nested sandbox in which holdout/answers.json is an empty file and this process is
out of its sight (a PID namespace of its own): it reads the questions, never the answers. Without
bubblewrap (sandbox kind "none") every process can read holdout/ anyway, as autoresearch warns.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from score import read_json, score

HERE = Path(__file__).resolve().parent
QUESTIONS, ANSWERS = HERE / "holdout" / "questions.json", HERE / "holdout" / "answers.json"


def study_folder() -> Path:
    """The folder of the spec: this file's, or, in a candidate's worktree (inside .autoresearch/), its owner's."""
    return next((folder.parent for folder in HERE.parents if folder.name == ".autoresearch"), HERE)


def agent_argv(out: Path) -> list[str]:
    argv = [sys.executable, str(HERE / "harness.py"), str(QUESTIONS), str(out / "answers.json")]
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        print("note: no bubblewrap here: the agent runs with holdout/answers.json readable", file=sys.stderr)
        return argv
    study = study_folder()
    imports = [Path(entry or ".").resolve() for entry in {sys.prefix, *sys.path}]
    nested = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    # The private /tmp must not hide the Python running the agent (a virtual environment or an editable
    # install in a clone under /tmp): those folders come back read-only, but never the study's folder or
    # one holding it (that would show the answers), and before the study's folder is hidden below.
    for path in imports:
        if path.is_dir() and Path("/tmp") in path.parents and not (path == study or path in study.parents):
            nested += ["--ro-bind", str(path), str(path)]
    nested += ["--unshare-pid", "--die-with-parent"]
    # The study's folder disappears (the user's holdout/ and every other candidate's worktree with it);
    # this candidate's folder comes back read-only with its answers blanked, and the output is writable.
    nested += ["--tmpfs", str(study_folder()), "--ro-bind", str(HERE), str(HERE)]
    nested += ["--ro-bind", "/dev/null", str(ANSWERS), "--bind", str(out), str(out)]
    for path in imports:  # a virtual environment or a source checkout kept in the study's folder
        if path.is_dir() and study in path.parents and HERE not in (path, *path.parents):
            nested += ["--ro-bind", str(path), str(path)]
    return [*nested, *argv]


def main() -> None:
    out = Path(sys.argv[1]).resolve()
    truth = json.loads(ANSWERS.read_text())
    questions = {t["id"]: t["question"] for t in json.loads(QUESTIONS.read_text())}
    done = subprocess.run(agent_argv(out), cwd=HERE, timeout=600)
    if done.returncode != 0:
        sys.exit(f"the agent failed on the holdout split (exit code {done.returncode})")
    lines = score(read_json(out / "answers.json"), truth, questions)
    # Only the accuracy, renamed: no proposer ever reads this output, and it names no answer anyway.
    print("holdout_" + lines[-1])


if __name__ == "__main__":
    main()
