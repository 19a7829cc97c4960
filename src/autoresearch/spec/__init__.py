"""The study spec: `autoresearch.toml` (or `[tool.autoresearch]` in `pyproject.toml`), validated.

sections.py holds each section and the values with units they use (run_section.py the `[run]` one and
where it runs), model.py the whole `Spec`, loading.py finds and reads the file, errors.py turns every
mistake into one `SpecError` naming the key and the fix, and changes.py says what changed since the
study last ran. Their public names are re-exported here: `from autoresearch.spec import Spec, SpecError, load_spec`.
"""

from autoresearch.spec.changes import (
    MEASUREMENT_KEYS,
    SpecSnapshot,
    is_budget_key,
    is_measurement_key,
    listed_changes,
    snapshot_of,
    spec_change_line,
    spec_changes,
)
from autoresearch.spec.errors import SpecChanged, SpecError, format_validation_error
from autoresearch.spec.loading import SPEC_FILENAME, find_spec_file, load_spec, spec_from_dict
from autoresearch.spec.model import Spec
from autoresearch.spec.run_section import ResourcesSection, RunSection, SlurmSection, gpu_request
from autoresearch.spec.sections import (
    BudgetSection,
    CodeSection,
    Duration,
    GuardSection,
    HoldoutSection,
    HybridSection,
    IntegritySection,
    IslandsSearchSection,
    MetricSection,
    NoiseSection,
    ProfileSection,
    ProposerSection,
    PruneSection,
    SandboxSection,
    ScorerSection,
    SearchSection,
    Size,
    StageSection,
    StudySection,
    TreeSearchSection,
    parse_duration,
    parse_size,
)

__all__ = [
    "MEASUREMENT_KEYS",
    "SPEC_FILENAME",
    "BudgetSection",
    "CodeSection",
    "Duration",
    "GuardSection",
    "HoldoutSection",
    "HybridSection",
    "IntegritySection",
    "IslandsSearchSection",
    "MetricSection",
    "NoiseSection",
    "ProfileSection",
    "ProposerSection",
    "PruneSection",
    "ResourcesSection",
    "RunSection",
    "SandboxSection",
    "ScorerSection",
    "SearchSection",
    "Size",
    "SlurmSection",
    "Spec",
    "SpecChanged",
    "SpecError",
    "SpecSnapshot",
    "StageSection",
    "StudySection",
    "TreeSearchSection",
    "find_spec_file",
    "format_validation_error",
    "gpu_request",
    "is_budget_key",
    "is_measurement_key",
    "listed_changes",
    "load_spec",
    "parse_duration",
    "parse_size",
    "snapshot_of",
    "spec_change_line",
    "spec_changes",
    "spec_from_dict",
]
