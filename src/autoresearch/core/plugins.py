"""The one plug point: proposers, search policies, executors and LLM providers are entry points.

A package adds one by declaring it in its own metadata, e.g. in its pyproject.toml:

    [project.entry-points."autoresearch.executors"]
    pbs = "my_package.pbs:PBSExecutor"

autoresearch registers its own the same way (this project's pyproject.toml), so there is no second
list to keep in step. Names are read from the installed metadata without importing anything, which
keeps the spec's validation cheap; `load` imports the one that is used.
"""

from __future__ import annotations

import difflib
import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Literal

Kind = Literal["proposers", "policies", "executors", "llm_providers"]
KINDS: tuple[Kind, ...] = ("proposers", "policies", "executors", "llm_providers")
_SINGULAR = {
    "proposers": "proposer",
    "policies": "search policy",
    "executors": "executor",
    "llm_providers": "LLM provider",
}


class UnknownPlugin(ValueError):
    """A name that no installed package registers; the message lists the registered ones."""


class PluginConflict(RuntimeError):
    """Two installed packages register the same name for the same kind."""


def group(kind: Kind) -> str:
    """The entry-point group of KIND, e.g. 'autoresearch.executors'."""
    return f"autoresearch.{kind}"


@functools.cache
def registered(kind: Kind) -> dict[str, EntryPoint]:
    """Every entry point of KIND by name, in the order the metadata lists them."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=group(kind)):
        other = found.get(point.name)
        if other is not None and other.value != point.value:
            raise PluginConflict(
                f"two packages register the {_SINGULAR[kind]} {point.name!r}: {other.value} and {point.value};"
                " uninstall one of them"
            )
        found[point.name] = point
    return found


def names(kind: Kind) -> list[str]:
    return list(registered(kind))


def check(kind: Kind, name: str) -> None:
    """Raise UnknownPlugin, with the closest registered name, unless NAME is registered for KIND."""
    known = registered(kind)
    if name in known:
        return
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listed = ", ".join(known) or "none: is autoresearch installed (pip install -e .)?"
    raise UnknownPlugin(f"unknown {_SINGULAR[kind]} {name!r}{hint}; registered: {listed}")


def load(kind: Kind, name: str) -> Any:
    """The object NAME's entry point names (a class, a function, a descriptor), imported now."""
    check(kind, name)
    return registered(kind)[name].load()
