"""The architecture, enforced: imports run one way, from the bottom layer to the top, and no module is
over 600 lines (docs/architecture.md).

Every module under src/autoresearch is parsed: imports inside functions count, and so do those under
`if TYPE_CHECKING:` (a type-only import still ties a lower layer to a higher one). A module may import
from its own layer or a lower one. The allowlists name what was known to break the rules when this
test was written; work in progress removes them, and a test below fails once an entry no longer
happens, so that each is deleted as it goes. Nothing new may join them.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "autoresearch"
MAX_LINES = 600

# Each top-level folder (or module) of the package, and its layer: 0 at the bottom.
LAYERS = {
    "core": 0,  # types and pure helpers
    "spec": 1,
    "store": 1,
    "materialise": 2,  # params files, git checkouts, edits
    "execute": 3,  # processes, sandbox, metrics, evaluation, executors
    "search": 4,
    "propose": 4,
    "llm": 4,
    "engine": 5,  # the loop, judging, the study
    "ui": 6,
    "api": 6,
    "__main__": 6,
    "__init__": 6,  # the package's own namespace re-exports names from every layer
}
# Files under src/autoresearch that are not modules of the package: the starter files `init` copies.
NOT_MODULES = ("templates",)
# Packages of the repository that are not shipped.
TEST_ONLY = ("tests", "benchmarks")

# Upward imports, (importer, imported): none are left; an entry here must name why it cannot move down.
ALLOWED_UPWARD: set[tuple[str, str]] = set()
# Modules over MAX_LINES when this test was written, being split.
ALLOWED_LONG: set[str] = set()  # none left; an entry here must say why it cannot be split


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def describe(self) -> str:
        return (
            f"{self.importer} ({layer_name(self.importer)}, layer {layer(self.importer)}) imports "
            f"{self.imported} ({layer_name(self.imported)}, layer {layer(self.imported)}) at line {self.line}"
        )


def modules(package: Path) -> dict[str, Path]:
    """{dotted name: file} of every module of the package under PACKAGE."""
    found = {}
    for file in sorted(package.rglob("*.py")):
        rel = file.relative_to(package.parent).with_suffix("")
        if rel.parts[1] in NOT_MODULES:
            continue
        parts = rel.parts[:-1] if rel.parts[-1] == "__init__" else rel.parts
        found[".".join(parts)] = file
    return found


def layer_name(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer(module: str) -> int:
    return LAYERS[layer_name(module)]


def imports_of(name: str, file: Path, known: set[str]) -> list[Import]:
    """Every import of a module of the package in FILE, wherever it stands (functions, TYPE_CHECKING)."""
    root = name.split(".")[0]
    found = []
    for node in ast.walk(ast.parse(file.read_text(), str(file))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                package = name.split(".") if file.name == "__init__.py" else name.split(".")[:-1]
                package = package[: len(package) - (node.level - 1)]
                base = ".".join([*package, base] if base else package)
            # `from a.b import c` imports the module a.b.c when there is one, else names of a.b.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        if isinstance(node, ast.Import) and root in targets:
            # A bare `import autoresearch` (for its __file__) takes no name from the package's namespace,
            # and every module imports its parent packages anyway.
            targets.remove(root)
        for target in targets:
            if target != root and not target.startswith(root + "."):
                continue  # another package
            while target not in known and "." in target:  # `import a.b.name`: the module a.b
                target = target.rsplit(".", 1)[0]
            if target != name:
                found.append(Import(name, target, node.lineno))
    return found


def all_imports(package: Path) -> list[Import]:
    found = modules(package)
    return [imp for name, file in found.items() for imp in imports_of(name, file, set(found))]


def upward(imports: list[Import]) -> list[Import]:
    return [imp for imp in imports if layer(imp.imported) > layer(imp.importer)]


def long_modules(package: Path) -> dict[str, int]:
    sizes = {name: len(file.read_text().splitlines()) for name, file in modules(package).items()}
    return {name: lines for name, lines in sizes.items() if lines > MAX_LINES}


# -- the package ---------------------------------------------------------------------------------------


def test_every_module_has_a_layer() -> None:
    unplaced = sorted({layer_name(name) for name in modules(PACKAGE)} - set(LAYERS))
    assert unplaced == [], f"folders with no layer: {unplaced}; add each to LAYERS here and to docs/architecture.md"


def test_imports_run_one_way() -> None:
    new = [imp.describe() for imp in upward(all_imports(PACKAGE)) if (imp.importer, imp.imported) not in ALLOWED_UPWARD]
    assert new == [], "imports that point to a higher layer (move the shared part down instead):\n" + "\n".join(new)


def test_no_module_is_over_600_lines() -> None:
    new = [f"{name}: {lines} lines" for name, lines in long_modules(PACKAGE).items() if name not in ALLOWED_LONG]
    assert new == [], f"modules over {MAX_LINES} lines (split each by what it holds):\n" + "\n".join(new)


def test_the_package_imports_nothing_from_tests_or_benchmarks() -> None:
    # Their helpers (tests/support/) are not installed: an import of one works here and fails for users.
    found = []
    for name, file in modules(PACKAGE).items():
        for node in ast.walk(ast.parse(file.read_text(), str(file))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            found += [f"{name} imports {n} at line {node.lineno}" for n in names if n.split(".")[0] in TEST_ONLY]
    assert found == []


def test_the_allowlists_hold_only_what_still_happens() -> None:
    # Each entry goes once its violation is gone, so that it cannot come back unnoticed.
    still = {(imp.importer, imp.imported) for imp in upward(all_imports(PACKAGE))}
    assert sorted(ALLOWED_UPWARD - still) == [], "no longer upward: delete these from ALLOWED_UPWARD"
    assert sorted(ALLOWED_LONG - set(long_modules(PACKAGE))) == [], "no longer too long: delete from ALLOWED_LONG"


# -- the check itself, on a package written for it -------------------------------------------------------


def test_the_check_sees_every_kind_of_import(tmp_path: Path) -> None:
    package = tmp_path / "autoresearch"
    files = {
        "__init__.py": "",
        "core/__init__.py": "",
        "core/types.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from autoresearch.engine.loop import Loop\n"  # type-only
            "def later():\n"
            "    import autoresearch.ui.cli\n"  # inside a function
            "    from ..store import database\n"  # relative, naming a module
            "from . import helpers\n"  # relative, same layer
        ),
        "core/helpers.py": "from autoresearch.core.types import later\n" + "x = 1\n" * MAX_LINES,
        "store/__init__.py": "",
        "store/database.py": "from autoresearch import Loop\n",  # the package's namespace: the top
        "engine/__init__.py": "",
        "engine/loop.py": "from autoresearch.core import types\nfrom autoresearch.store.database import Store\n",
        "ui/__init__.py": "",
        "ui/cli.py": "import autoresearch.engine.loop\n",
        "materialise/__init__.py": "",
        "materialise/paths.py": "import autoresearch\nimport os.path\n",  # the package itself: no layer's names
    }
    for rel, text in files.items():
        (package / rel).parent.mkdir(parents=True, exist_ok=True)
        (package / rel).write_text(text)
    found = {(imp.importer, imp.imported, imp.line) for imp in upward(all_imports(package))}
    assert found == {
        ("autoresearch.core.types", "autoresearch.engine.loop", 3),
        ("autoresearch.core.types", "autoresearch.ui.cli", 5),
        ("autoresearch.core.types", "autoresearch.store.database", 6),
        ("autoresearch.store.database", "autoresearch", 1),
    }
    assert long_modules(package) == {"autoresearch.core.helpers": MAX_LINES + 1}
