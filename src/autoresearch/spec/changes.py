"""Change detection on resume: the spec as written and as validated (`SpecSnapshot`), what changed
since the study last ran, and which changes alter what a number means.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from autoresearch.spec.upgrades import upgrade_hybrid_policy

if TYPE_CHECKING:
    from autoresearch.spec.model import Spec
    from autoresearch.store.database import Store

# Keys whose change alters what a number means: results before and after it may not compare.
MEASUREMENT_KEYS = (
    "run.command",
    "run.cwd",
    "run.params_file",
    "run.repeats",
    "run.env",
    "metric",
    "params",
    "code",
    "guard",
    "stage",
    "holdout",
    "noise",
    "integrity",
    "sandbox",
    "study.direction",
)


class SpecSnapshot(BaseModel):
    """A spec as written (`raw`, for messages) and as validated (`normalised`, for comparing):
    reformatting, comments or `"300s"` for `"5m"` are not changes."""

    raw: dict[str, Any]
    normalised: dict[str, Any]

    @property
    def hash(self) -> str:
        return hashlib.sha256(json.dumps(self.normalised, sort_keys=True).encode()).hexdigest()

    def changes(self, before: SpecSnapshot) -> list[tuple[str, str, str]]:
        """(key, old value, new value) for every key that differs, old and new as the user wrote them."""
        old, new = _flatten(before.normalised), _flatten(self.normalised)
        raw_old, raw_new = _flatten(before.raw), _flatten(self.raw)
        changed = []
        for key in sorted(set(old) | set(new)):
            if old.get(key, _ABSENT) != new.get(key, _ABSENT):
                changed.append(
                    (
                        key,
                        _shown(raw_old.get(key, old.get(key, _ABSENT))),
                        _shown(raw_new.get(key, new.get(key, _ABSENT))),
                    )
                )
        return changed


_ABSENT = object()


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict) and value:
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):  # [[guard]] tables
        flat = {}
        for i, item in enumerate(value):
            flat.update(_flatten(item, f"{prefix}.{i}"))
        return flat
    return {prefix: value}


def _shown(value: Any) -> str:
    if value is _ABSENT:
        return "(unset)"
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 60 else text[:59] + "…"


def spec_changes(spec: Spec, store: Store) -> list[tuple[str, str, str]]:
    """(key, old, new) for each difference between SPEC and the spec the study last ran with."""
    recorded = store.get_meta("spec_snapshot")
    if spec.source is None or recorded is None or store.get_meta("spec_hash") == spec.source.hash:
        return []
    before = SpecSnapshot.model_validate_json(recorded)
    before.normalised, _ = upgrade_hybrid_policy(before.normalised)  # recorded while hybrid was a policy
    return spec.source.changes(before)


def listed_changes(changes: list[tuple[str, str, str]], limit: int = 3) -> str:
    shown = "; ".join(f"{key}: {old} -> {new}" for key, old, new in changes[:limit])
    return shown + (f"; and {len(changes) - limit} more" if len(changes) > limit else "")


def spec_change_line(spec: Spec, store: Store) -> str:
    """For `status`: the change `run` will stop on, or ''."""
    changes = [change for change in spec_changes(spec, store) if not is_budget_key(change[0])]
    if not changes:
        return ""
    return f"the spec changed since the last run ({listed_changes(changes)}); `run` will ask you to accept it"


def is_measurement_key(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in MEASUREMENT_KEYS)


def is_budget_key(key: str) -> bool:
    """Budget keys say how long to search, not how candidates are measured: raising
    `budget.experiments` to continue a study is routine, so such a change is taken with a note."""
    return key == "budget" or key.startswith("budget.")


def snapshot_of(spec: Spec, raw: dict[str, Any]) -> SpecSnapshot:
    # Keys added since (an unset [prune], metric.objectives, [proposer.hybrid], [run.slurm], empty [search]
    # options) are left out while unset, so a study recorded before they existed compares equal.
    excluded: dict[str, Any] = {"root": True}
    if spec.prune is None:
        excluded["prune"] = True
    if spec.proposer.hybrid is None:
        excluded["proposer"] = {"hybrid"}
    if not spec.search.options:
        excluded["search"] = {"options"}
    if spec.metric.objectives is None:
        excluded["metric"] = {"objectives"}
    if spec.run.slurm is None:
        excluded["run"] = {"slurm"}
    dumped = spec.model_dump(mode="json", by_alias=True, exclude=excluded)
    normalised = json.loads(json.dumps(dumped, default=str))
    return SpecSnapshot(raw=json.loads(json.dumps(raw, default=str)), normalised=normalised)
