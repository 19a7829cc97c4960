"""Kept == proposed == measured: what a run does to its checkout never reaches the commit, `best` or `apply`.

Each test plays one attack on what is committed, checked out or kept, under sandbox kind "none" and,
where a run is involved, "bwrap".
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from autoresearch.materialise.checkout import GITLINK
from autoresearch.materialise.git import GitError
from autoresearch.materialise.workspace import GitWorkspace
from autoresearch.store.database import Store
from tests.conftest import PYTHON, cli
from tests.redteam.conftest import code_study, run, whole

EVALUATE = "import train\nprint('loss:', train.train())\n"
TRAIN = "def train():\n    return 1.0\n"
KINDS = ["none", "bwrap"]
# Lets a run find the repository's shared .git from its worktree (possible whenever .git is visible).
FIND_GIT = (
    "import pathlib, subprocess\n"
    "def common():\n"
    "    out = subprocess.run(['git', 'rev-parse', '--path-format=absolute', '--git-common-dir'],\n"
    "                         capture_output=True, text=True).stdout.strip()\n"
    "    return pathlib.Path(out) if out else None\n"
)


def sandbox(kind: str) -> str:
    return f'[sandbox]\nkind = "{kind}"'


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def tree(root: Path, commit: str) -> dict[str, str]:
    """{path: 'mode sha'} of a commit, read by a plain git."""
    entries = {}
    for line in git(root, "ls-tree", "-r", "--full-tree", commit).splitlines():
        meta, name = line.split("\t", 1)
        mode, _, sha = meta.split(" ")
        entries[name] = f"{mode} {sha}"
    return entries


def blob(root: Path, text: str) -> str:
    return subprocess.run(
        ["git", "hash-object", "--no-filters", "--stdin"], cwd=root, input=text, capture_output=True, text=True
    ).stdout.strip()


def assert_commit_is_parent_plus(root: Path, sha: str, parent: str, files: dict[str, str]) -> None:
    expected = tree(root, parent)
    for path, content in files.items():
        expected[path] = f"100644 {blob(root, content)}"
    assert tree(root, sha) == expected


@pytest.mark.parametrize("kind", KINDS)
def test_a_run_that_stages_and_commits_a_protected_file_changes_nothing_kept(tmp_path: Path, kind: str) -> None:
    # The run rewrites the evaluator to print a great loss and tries to get it committed (git add +
    # commit in its worktree). The next, honest candidate must still be measured by the real evaluator.
    hack = (
        FIND_GIT + "import pathlib, subprocess\n"
        "def train():\n"
        "    pathlib.Path('evaluate.py').write_text(\"print('loss:', 0.0)\\n\")\n"
        "    for args in (['add', '-A'], ['-c', 'user.name=x', '-c', 'user.email=x@x', 'commit', '-qm', 'x']):\n"
        "        subprocess.run(['git', *args], capture_output=True)\n"
        "    return 0.5\n"
    )
    honest = "def train():\n    return 0.9\n"
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": EVALUATE, "train.py": TRAIN},
        [whole(hack, "rewrite the evaluator and stage it"), whole(honest, "a small real gain")],
        extra=sandbox(kind),
    )
    experiments = run(root)
    decisions = [e.decision for e in experiments]
    assert decisions in (["baseline", "rejected", "kept"], ["baseline", "failed", "kept"]), decisions
    assert "evaluate.py" in (experiments[1].reason or "")  # bwrap: read-only, so the run fails writing it
    assert experiments[2].objective == 0.9  # measured by the real evaluator, not the staged one
    base = experiments[0].commit_sha
    assert base is not None and experiments[1].commit_sha and experiments[2].commit_sha
    assert_commit_is_parent_plus(root, experiments[1].commit_sha, base, {"train.py": hack})
    assert_commit_is_parent_plus(root, experiments[2].commit_sha, base, {"train.py": honest})
    assert git(root, "show", "autoresearch/rt:evaluate.py") == EVALUATE


@pytest.mark.parametrize("kind", KINDS)
def test_a_run_that_rewrites_its_own_source_keeps_only_the_proposed_code(tmp_path: Path, kind: str) -> None:
    # Measured: the proposed train.py (0.5). After it starts, the run rewrites train.py and adds a helper;
    # neither may reach the kept commit, `best` or `apply`.
    proposed = (
        "import pathlib\n"
        "def train():\n"
        "    pathlib.Path('train.py').write_text('def train():\\n    return 0.0  # never measured\\n')\n"
        "    pathlib.Path('helper.py').write_text('SECRET = 1\\n')\n"
        "    return 0.5\n"
    )
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": EVALUATE, "train.py": TRAIN},
        [whole(proposed, "rewrite myself after starting")],
        extra=sandbox(kind),
        editable='["train.py", "helper.py"]',
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept"]
    kept = experiments[1].commit_sha
    assert kept is not None and experiments[0].commit_sha is not None
    assert_commit_is_parent_plus(root, kept, experiments[0].commit_sha, {"train.py": proposed})
    best = cli("best", str(root))
    lines = best.stdout.splitlines()
    assert best.returncode == 0 and "+    return 0.5" in lines
    assert "+    return 0.0  # never measured" not in lines and "+SECRET = 1" not in lines
    applied = cli("apply", str(root))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert (root / "train.py").read_text() == proposed
    assert not (root / "helper.py").exists()


def test_committed_symlinks_into_protected_paths_cannot_be_edited(tmp_path: Path) -> None:
    # link.py -> evaluate.py and lib -> data are the user's own links; editing through them would
    # change protected files.
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": EVALUATE, "train.py": TRAIN, "data/split.txt": "1 2 3\n"},
        [
            {"edits": {"link.py": "print('loss: 0')\n"}, "rationale": "edit through a link"},
            {"edits": {"lib/split.txt": "1\n"}, "rationale": "edit below a linked folder"},
            {"edits": {"lib/new.txt": "1\n"}, "rationale": "create below a linked folder"},
        ],
        editable='["train.py", "link.py", "lib/**"]',
        links={"link.py": "evaluate.py", "lib": "data"},
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "rejected", "rejected", "rejected"]
    assert "link.py is a symbolic link in the parent commit" in (experiments[1].reason or "")
    assert "lies under lib, which is a symbolic link" in (experiments[2].reason or "")
    assert "lies under lib, which is a symbolic link" in (experiments[3].reason or "")
    assert (root / "evaluate.py").read_text() == EVALUATE and (root / "data/split.txt").read_text() == "1 2 3\n"


@pytest.mark.parametrize("kind", KINDS)
def test_a_symlink_planted_by_a_run_is_never_followed(tmp_path: Path, kind: str) -> None:
    # The run plants helper.py -> the user's evaluate.py (outside its worktree); the next candidate
    # creates helper.py. Writing it must replace the link, not write through it.
    root = tmp_path / "s"
    plant = f"import os\ndef train():\n    os.symlink({str(root / 'evaluate.py')!r}, 'helper.py')\n    return 0.9\n"
    create = {"edits": {"helper.py": "X = 1\n"}, "rationale": "add a helper"}
    code_study(
        root,
        {"evaluate.py": EVALUATE, "train.py": TRAIN},
        [whole(plant, "plant a link"), create],
        extra=sandbox(kind),
        editable='["train.py", "helper.py"]',
    )
    experiments = run(root)
    assert [e.decision for e in experiments][:2] == ["baseline", "kept"]
    assert (root / "evaluate.py").read_text() == EVALUATE
    sha = experiments[2].commit_sha
    assert sha is not None and tree(root, sha)["helper.py"].startswith("100644 ")
    assert git(root, "show", f"{sha}:helper.py") == "X = 1\n"


@pytest.mark.parametrize("kind", KINDS)
def test_filters_hooks_and_attributes_planted_by_a_run_change_nothing(tmp_path: Path, kind: str) -> None:
    # The run writes a smudge/clean filter, fsmonitor and hooks into the shared .git, and attributes that
    # route every file through the filter. Later checkouts and commits must be raw, and nothing may run.
    marker = tmp_path / "ran"
    script = tmp_path / "evil.sh"
    script.write_text(f"#!/bin/sh\necho ran >> {marker}\nprintf \"print('loss:', 0.0)\\n\"\n")
    script.chmod(0o755)
    plant = (
        FIND_GIT + "import pathlib\n"
        "def train():\n"
        "    git = common()\n"
        "    if git is not None:\n"
        "        try:\n"
        f"            with open(git / 'config', 'a') as config:\n"
        f"                config.write('[filter \"x\"]\\n\\tsmudge = {script}\\n\\tclean = {script}\\n'\n"
        f"                             '[core]\\n\\tfsmonitor = {script}\\n\\thooksPath = {tmp_path}\\n')\n"
        "            (git / 'info').mkdir(exist_ok=True)\n"
        "            (git / 'info' / 'attributes').write_text('* filter=x\\n* -diff\\n')\n"
        "            for hook in ('post-checkout', 'reference-transaction', 'pre-commit'):\n"
        f"                (git / 'hooks' / hook).write_text('#!/bin/sh\\necho hook >> {marker}\\n')\n"
        "                (git / 'hooks' / hook).chmod(0o755)\n"
        "        except OSError:\n"
        "            pass  # .git is read-only in the sandbox\n"
        "    return 0.9\n"
    )
    for hook in ("post-checkout", "reference-transaction"):
        (tmp_path / hook).write_text(f"#!/bin/sh\necho hook >> {marker}\n")
        (tmp_path / hook).chmod(0o755)
    honest = "def train():\n    return 0.8  # seed\n"
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": EVALUATE, "train.py": TRAIN},
        [whole(plant, "plant a filter"), whole(honest, "a real gain")],
        extra=sandbox(kind),
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept", "kept"]
    assert experiments[2].objective == 0.8  # measured by the real evaluator, not the filter's
    assert not marker.exists()
    base, sha = experiments[0].commit_sha, experiments[2].commit_sha
    assert base and sha
    assert_commit_is_parent_plus(root, sha, base, {"train.py": honest})
    # The diff (and its seed flag) is not hidden by a planted `-diff` attribute.
    assert "return 0.8" in (experiments[2].diff or "")
    assert any("seed" in flag for flag in experiments[2].extra.get("flags", []))
    worktree = root / ".autoresearch" / "rt" / "worktrees" / "0"
    if worktree.exists():
        assert (worktree / "evaluate.py").read_text() == EVALUATE
    assert not marker.exists()


@pytest.mark.parametrize("path", [".gitattributes", ".gitmodules", "sub/.gitattributes", ".git/config", ".gitignore"])
def test_edits_to_git_files_are_refused(tmp_path: Path, path: str) -> None:
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": EVALUATE, "train.py": TRAIN},
        [{"edits": {path: "* filter=x\n"}, "rationale": "route files through a filter"}],
        editable='["**"]',
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "rejected"]
    reason = experiments[1].reason or ""
    assert "git file" in reason or "not a relative path inside the repository" in reason
    assert git(root, "status", "--porcelain", "--", ".git*", "sub") == ""


@pytest.mark.parametrize(
    ("left", "content", "guard"),
    [
        (
            "conftest.py",
            "import train\ntrain.sane = lambda: True\n",
            f"{PYTHON} -m pytest -q -p no:cacheprovider test_train.py",
        ),
        ("statistics.py", "raise SystemExit(0)\n", f"{PYTHON} check.py"),
    ],
)
@pytest.mark.parametrize("kind", KINDS)
def test_a_guard_is_not_fooled_by_files_the_run_left(
    tmp_path: Path, kind: str, left: str, content: str, guard: str
) -> None:
    # The candidate breaks `sane()`; its run leaves a conftest.py (or a module shadowing the standard
    # library) that would make the failing guard pass in the worktree the run used.
    hack = (
        "import pathlib\n"
        "def sane():\n    return False\n"
        f"def train():\n    pathlib.Path({left!r}).write_text({content!r})\n    return 0.5\n"
    )
    files = {
        "evaluate.py": EVALUATE,
        "train.py": TRAIN + "def sane():\n    return True\n",
        "test_train.py": "import train\n\ndef test_sane():\n    assert train.sane()\n",
        "check.py": "import statistics, train\nraise SystemExit(0 if train.sane() else 1)\n",
    }
    root = code_study(
        tmp_path / "s",
        files,
        [whole(hack, "break sanity, leave a helper behind")],
        extra=f'{sandbox(kind)}\n[[guard]]\nname = "sanity"\ncommand = "{guard}"\ntimeout = "60s"',
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "rejected"], [e.reason for e in experiments]
    assert "guard sanity failed" in (experiments[1].reason or "")


def _store_commit(root: Path, experiment_id: int, sha: str) -> None:
    """Point a stored experiment at another commit, as a tampered or legacy store would."""
    db = sqlite3.connect(root / ".autoresearch" / "rt" / "study.db")
    with db:
        db.execute("UPDATE experiments SET commit_sha = ? WHERE id = ?", (sha, experiment_id))
    db.close()


@pytest.mark.parametrize("change", ["protected", "not editable", "symlink"])
def test_apply_refuses_a_commit_with_non_editable_changes(tmp_path: Path, change: str) -> None:
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": EVALUATE, "train.py": TRAIN, "notes.md": "notes\n"},
        [whole("def train():\n    return 0.5\n", "a real gain")],
    )
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept"]
    kept = experiments[1].commit_sha
    assert kept is not None
    ws = GitWorkspace(root, "other", Path(".autoresearch/other/worktrees"))
    if change == "symlink":  # commit_files keeps the parent's mode: build the link with git itself
        sha = _commit_symlink(root, kept, "train.py", str(root / "evaluate.py"))
    else:
        tampered = {"evaluate.py": "print('loss: 0')\n"} if change == "protected" else {"notes.md": "rewritten\n"}
        sha = ws.commit_files(kept, tampered, "tampered")
    _store_commit(root, experiments[1].id, sha)
    before = {name: (root / name).read_bytes() for name in ("evaluate.py", "train.py", "notes.md")}
    refused = cli("apply", str(root))  # the store's commit is not the study branch's: a tamper, refused
    assert refused.returncode != 0 and "the study's record was tampered with" in refused.stderr
    result = cli("apply", "--accept-tamper", str(root))  # apply's own checks still hold
    assert result.returncode != 0
    assert "not editable" in result.stdout + result.stderr and "Nothing was changed" in result.stdout + result.stderr
    assert {name: (root / name).read_bytes() for name in before} == before
    assert not (root / "train.py").is_symlink()


def _commit_symlink(root: Path, parent: str, path: str, target: str) -> str:
    link = subprocess.run(
        ["git", "hash-object", "-w", "--no-filters", "--stdin"], cwd=root, input=target, capture_output=True, text=True
    ).stdout.strip()
    env_index = root / ".git" / "tmp-index"
    env = {"GIT_INDEX_FILE": str(env_index), "PATH": "/usr/bin:/bin"}
    subprocess.run(["git", "read-tree", parent], cwd=root, env=env, check=True)
    subprocess.run(
        ["git", "update-index", "--index-info"], cwd=root, env=env, input=f"120000 {link}\t{path}\n", text=True
    )
    tree_sha = subprocess.run(["git", "write-tree"], cwd=root, env=env, capture_output=True, text=True).stdout.strip()
    env_index.unlink()
    ident = ["-c", "user.name=x", "-c", "user.email=x@x"]
    return git(root, *ident, "commit-tree", tree_sha, "-p", parent, "-m", "link").strip()


def test_apply_never_writes_through_a_symlink_in_the_users_checkout(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("precious\n")
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": EVALUATE, "train.py": TRAIN, "pkg/model.py": "W = 1\n"},
        [{"edits": {"pkg/model.py": "W = 2\n"}, "rationale": "change the model"}],
        editable='["train.py", "pkg/*.py"]',
        metric='name = "loss"',
    )
    experiments = run(root)
    assert experiments[1].decision in ("kept", "reverted")
    # The user turns pkg/ into a link to a folder elsewhere after the study ran.
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere/model.py").write_text("W = 1\n")
    git(root, "rm", "-rq", "--cached", "pkg")
    subprocess.run(["rm", "-rf", str(root / "pkg")], check=True)
    (root / "pkg").symlink_to(tmp_path / "elsewhere")
    result = cli("apply", str(experiments[1].id), str(root))
    assert result.returncode != 0
    assert "symbolic link" in result.stdout + result.stderr
    assert (tmp_path / "elsewhere/model.py").read_text() == "W = 1\n"
    assert outside.read_text() == "precious\n"


# ------------------------------------------------------------------------------ git itself, unit level


def _plant(repo: Path, marker: Path) -> None:
    """Everything that could make git run code or transform content, planted in a repository."""
    script = repo.parent / "evil.sh"
    script.write_text(f"#!/bin/sh\necho ran >> {marker}\ncat >/dev/null\nprintf 'transformed\\n'\n")
    script.chmod(0o755)
    with open(repo / ".git/config", "a") as config:
        config.write(
            f'[filter "x"]\n\tsmudge = {script}\n\tclean = {script}\n\trequired = true\n'
            f'[diff "x"]\n\ttextconv = {script}\n'
            f"[core]\n\tfsmonitor = {script}\n\thooksPath = {repo.parent}\n\tpager = {script}\n"
            f"\tautocrlf = true\n\teol = crlf\n"
            f"[diff]\n\texternal = {script}\n"
        )
    (repo / ".git/info").mkdir(exist_ok=True)
    (repo / ".git/info/attributes").write_text("* filter=x diff=x text eol=crlf\n")
    for hook in ("post-checkout", "reference-transaction", "pre-commit", "post-index-change"):
        for folder in (repo / ".git/hooks", repo.parent):
            (folder / hook).write_text(f"#!/bin/sh\necho hook >> {marker}\n")
            (folder / hook).chmod(0o755)


def test_planted_git_config_attributes_and_hooks_never_run_nor_transform(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "train.py").write_text("LR = 0.1\n")
    (repo / "evaluate.py").write_text("print('loss: 1')\n")
    (repo / ".gitattributes").write_text("*.py filter=x\n")  # the repository's own rule, naming filter x
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "init")
    marker = tmp_path / "ran"
    _plant(repo, marker)
    ws = GitWorkspace(repo, "st", Path(".autoresearch/st/worktrees"))
    (repo / "evaluate.py").write_text("print('loss: 2')\n")  # uncommitted work, taken as it is
    snapshot = ws.baseline_commit(include_uncommitted=True)
    assert ws.files_at(snapshot, ["evaluate.py"]) == {"evaluate.py": "print('loss: 2')\n"}
    (repo / "evaluate.py").write_text("print('loss: 1')\n")
    base = ws.baseline_commit()
    sha = ws.commit_files(base, {"train.py": "LR = 0.2\n"}, "candidate", experiment_id=1)
    tree_ = ws.checkout(0, sha)
    assert (tree_ / "train.py").read_bytes() == b"LR = 0.2\n"  # no smudge, no CRLF
    assert (tree_ / "evaluate.py").read_bytes() == b"print('loss: 1')\n"
    assert ws.files_at(sha, ["train.py"]) == {"train.py": "LR = 0.2\n"}  # no clean filter on commit
    assert "+LR = 0.2" in ws.diff(base, sha)  # no textconv, no external diff
    (tree_ / "train.py").write_text("changed by the run\n")
    (tree_ / "conftest.py").write_text("left behind\n")
    assert ws.worktree_changes(0, sha) == {"train.py": "modified", "conftest.py": "added"}
    assert ws.checkout(0, sha) == tree_
    assert sorted(p.name for p in tree_.iterdir()) == [".git", ".gitattributes", "evaluate.py", "train.py"]
    assert ws.apply_to_user_checkout(sha, base, editable=["train.py"]) == ["train.py"]
    assert (repo / "train.py").read_bytes() == b"LR = 0.2\n"
    assert not marker.exists()


def test_a_replaced_dot_git_file_in_a_worktree_is_not_used(tmp_path: Path) -> None:
    # A run replaces its worktree's .git file with a repository of its own, with a hostile config.
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "train.py").write_text("LR = 0.1\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "init")
    ws = GitWorkspace(repo, "st", Path(".autoresearch/st/worktrees"))
    base = ws.baseline_commit()
    worktree = ws.checkout(0, base)
    (worktree / ".git").unlink()
    git(worktree, "init", "-q")
    marker = tmp_path / "ran"
    _plant(worktree, marker)
    assert ws.checkout(0, base) == worktree
    assert (worktree / ".git").is_file()
    assert sorted(p.name for p in worktree.iterdir()) == [".git", "train.py"]
    assert not marker.exists()


def test_submodules_and_links_in_the_parent_tree_are_refused_as_edit_targets(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "train.py").write_text("LR = 0.1\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "init")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "update-index", "--add", "--cacheinfo", f"{GITLINK},{head},vendor")
    git(repo, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qm", "submodule")
    ws = GitWorkspace(repo, "st", Path(".autoresearch/st/worktrees"))
    base = ws.baseline_commit()
    assert (
        ws.path_problem(base, ["vendor"])
        == "vendor is a submodule in the parent commit; only regular files can be edited"
    )
    assert "lies under vendor, which is a submodule" in (ws.path_problem(base, ["vendor/x.py"]) or "")
    assert ws.path_problem(base, ["train.py", "new/file.py"]) is None
    worktree = ws.checkout(0, base)
    assert (worktree / "vendor").is_dir() and not list((worktree / "vendor").iterdir())
    with pytest.raises(GitError, match="not editable"):
        ws.apply_to_user_checkout(ws.commit_files(base, {"other.py": "x\n"}, "c"), base, editable=["train.py"])


def test_agent_artefacts_do_not_sink_a_proposal_and_planted_config_changes_nothing(tmp_path: Path) -> None:
    # The agent edits train.py, leaves caches and an ignored build folder, and plants a filter, an
    # attributes file and a hook in the shared .git. Its proposal is exactly its edit; the next
    # checkouts are raw and nothing it planted runs.
    marker = tmp_path / "ran"
    agent = tmp_path / "agent.py"
    agent.write_text(
        FIND_GIT + "import pathlib, sys\n"
        "p = pathlib.Path('train.py'); p.write_text(p.read_text().replace('1.0', '0.5'))\n"
        "pathlib.Path('__pycache__').mkdir(exist_ok=True)\n"
        "pathlib.Path('__pycache__/train.cpython-311.pyc').write_bytes(b'\\x00\\xff')\n"
        "pathlib.Path('build').mkdir(exist_ok=True)\n"
        "pathlib.Path('build/out.bin').write_bytes(b'\\x00\\xff')\n"
        "pathlib.Path('scratch.txt').write_text('notes')\n"
        "pathlib.Path('.gitattributes').write_text('* filter=x\\n')\n"
        "git = common()\n"
        f"open(git / 'config', 'a').write('[filter \"x\"]\\n\\tsmudge = sh -c \"echo ran >> {marker}; cat\"\\n')\n"
        "(git / 'info').mkdir(exist_ok=True)\n"
        "(git / 'info' / 'attributes').write_text('* filter=x\\n')\n"
        "h = git / 'hooks' / 'post-checkout'\n"
        f"h.write_text('#!/bin/sh\\necho ran >> {marker}\\n'); h.chmod(0o755)\n"
        "print('RATIONALE: halve the loss')\n"
    )
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": EVALUATE, "train.py": TRAIN, ".gitignore": "build/\n"},
        [],
        editable='["train.py", "*.txt", "build/**"]',
    )
    spec = (root / "autoresearch.toml").read_text()
    spec = spec.replace(f"script:{PYTHON} replay.py", f"agent:{PYTHON} {agent}").replace(
        "experiments = 1", "experiments = 2"
    )
    # No sandbox, so the plants reach the real .git (under bwrap .git is an empty tmpfs to the agent).
    (root / "autoresearch.toml").write_text(spec + '\n[sandbox]\nkind = "none"\n')
    git(root, "-c", "user.name=u", "-c", "user.email=u@x", "commit", "-qam", "agent")
    experiments = run(root)
    assert [e.decision for e in experiments] == ["baseline", "kept"], [e.reason for e in experiments]
    proposal = experiments[1].proposal or {}
    assert json.loads(proposal["edits"]) == {"train.py": "def train():\n    return 0.5\n", "scratch.txt": "notes"}
    sha = experiments[1].commit_sha
    assert sha is not None and git(root, "show", f"{sha}:train.py") == "def train():\n    return 0.5\n"
    assert not marker.exists()


def test_a_parent_whose_protected_files_differ_from_the_reference_is_never_built_on(tmp_path: Path) -> None:
    # The store is tampered between two sessions (possible for an unsandboxed run): the best now points at
    # a commit whose evaluator prints a great loss. A candidate built on it differs from the study's
    # reference commit in a protected file and is rejected before it runs.
    root = code_study(
        tmp_path / "s",
        {"evaluate.py": EVALUATE, "train.py": TRAIN},
        [whole("def train():\n    return 0.9\n", "a real gain")],
    )
    experiments = run(root)
    kept = experiments[1].commit_sha
    assert [e.decision for e in experiments] == ["baseline", "kept"] and kept is not None
    ws = GitWorkspace(root, "other", Path(".autoresearch/other/worktrees"))
    tampered = ws.commit_files(kept, {"evaluate.py": "print('loss:', 0.0)\n"}, "tampered")
    _store_commit(root, experiments[1].id, tampered)
    # The branch moved along with it (a branch that disagrees with the store stops the resume: test_tamper.py).
    git(root, "update-ref", "refs/heads/autoresearch/rt", tampered)
    proposals = [*json.loads((root / "proposals.json").read_text()), whole("def train():\n    return 0.8\n", "more")]
    (root / "proposals.json").write_text(json.dumps(proposals))
    spec = root / "autoresearch.toml"
    spec.write_text(spec.read_text().replace("experiments = 2", "experiments = 3"))
    resumed = cli("run", "--accept-spec-change", str(root), timeout=180)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    store = Store(root / ".autoresearch" / "rt", create=False)
    experiments = store.experiments()
    store.close()
    assert experiments[2].decision == "rejected", [e.reason for e in experiments]
    assert "differ from the study's reference commit: evaluate.py" in (experiments[2].reason or "")
    assert experiments[2].objective is None
