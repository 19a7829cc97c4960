"""The one plug point: proposers, search policies, executors and LLM providers are entry points.

A package adds one by declaring it in its own metadata, e.g. in its pyproject.toml:

    [project.entry-points."autoresearch.executors"]
    pbs = "my_package.pbs:PBSExecutor"

autoresearch registers its own the same way (this project's pyproject.toml), so there is no second
list to keep in step. Names are read from the installed metadata without importing anything, which
keeps the spec's validation cheap; `load` imports the one that is used.

What each kind's entry point names (docs/extending.md):

- proposers: a `ProposerKind` (below), what `[proposer] use = "<name>[:<argument>]"` names;
- policies: a `SearchPolicy` subclass (autoresearch.search.policy), what `[search] policy` names;
- llm_providers: a callable (model, options) -> chat backend, what `llm:<provider>/<model>` names.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


class UnknownProposer(UnknownPlugin):
    """`[proposer] use` names no registered kind, or writes one wrongly (an argument missing or extra)."""


class NotAPlugin(RuntimeError):
    """An entry point that names something other than what its kind expects."""


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
    if name not in registered(kind):
        raise UnknownPlugin(unknown(kind, name))


def unknown(kind: Kind, name: str, written: str | None = None, listed: Sequence[str] | None = None) -> str:
    """'unknown <kind> WRITTEN (did you mean ...?); registered: LISTED': NAME is what is matched against
    the registered names, WRITTEN how the user wrote it (default NAME), LISTED how each is shown."""
    known = list(registered(kind))
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(known if listed is None else listed) or "none: is autoresearch installed (pip install -e .)?"
    return f"unknown {_SINGULAR[kind]} {written or name!r}{hint}; registered: {shown}"


def load(kind: Kind, name: str) -> Any:
    """The object NAME's entry point names (a class, a function, a descriptor), imported now."""
    check(kind, name)
    return registered(kind)[name].load()


# -- proposers -------------------------------------------------------------------------------------

# (spec, the text after the colon of `use`, the study's history) -> a proposer. Typed loosely: the types
# it takes and returns live in the layers above this one.
BuildProposer = Callable[[Any, str, Sequence[Any]], Any]


@dataclass(frozen=True)
class ProposerKind:
    """What a `autoresearch.proposers` entry point names: how `use = "<name>[:<argument>]"` is written,
    checked and built. It is loaded whenever a spec is, so its module must import nothing heavy: `build`
    may import the proposer's own module when it is called."""

    build: BuildProposer
    usage: str = ""  # how to write it, e.g. "llm:<provider>/<model>"; default "<name>" or "<name>:<argument>"
    argument: bool = False  # True: the text after the colon is required; False: there must be none
    modes: tuple[str, ...] = ("params", "code")
    wrong_mode: str = ""  # why it does not serve the study's mode, and what to do
    complete: str = ""  # how to complete a missing argument (default: the usage)
    # (spec, argument) -> None when the spec is loaded; raises ValueError naming the problem and the fix.
    check: Callable[[Any, str], None] | None = None

    def written(self, name: str) -> str:
        return self.usage or (f"{name}:<argument>" if self.argument else name)


def proposer_usage() -> list[str]:
    """Every registered kind as it is written: 'agent:<command>', 'cmaes', ... (descriptors are light)."""
    return [_written(name) for name in registered("proposers")]


def _written(name: str) -> str:
    try:
        return _proposer_kind(name).written(name)
    except Exception:  # a broken plug-in is named in the list; using it says what is wrong with it
        return name


def proposer_kind(use: str) -> tuple[str, ProposerKind, str]:
    """The kind USE names: (its name, its descriptor, its argument); UnknownProposer says what is wrong
    and how to write it."""
    name, colon, argument = use.partition(":")
    if name not in registered("proposers"):
        raise UnknownProposer(unknown("proposers", name, use, proposer_usage()))
    kind = _proposer_kind(name)
    if kind.argument and not argument.strip():
        raise UnknownProposer(f"proposer {use!r} is incomplete; write {kind.complete or kind.written(name)}")
    if not kind.argument and colon:
        raise UnknownProposer(f"proposer {use!r}: {name} takes no argument; write use = {name!r}")
    return name, kind, argument


def _proposer_kind(name: str) -> ProposerKind:
    kind = load("proposers", name)
    if not isinstance(kind, ProposerKind):
        point = registered("proposers")[name].value
        raise NotAPlugin(
            f"the proposer {name!r} is registered as {point}, which is not an autoresearch.core.plugins.ProposerKind;"
            " the package that registers it must name one"
        )
    return kind
