"""Train a small neural network on the handwritten digits that ship inside scikit-learn.

Reads hyperparameters from a JSON/YAML/TOML file (`--config`), trains on the training split and prints
the validation metrics autoresearch reads (`val_loss: ...`). A test split is held back: it is never
printed during the search; `--report-test` evaluates it once you have chosen a configuration.

The network is written in numpy (one hidden layer, softmax output, L2 penalty, Adam on mini-batches):
an experiment then costs a fraction of a second, where importing scikit-learn alone takes seconds.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

DEFAULTS = {"hidden": 32, "alpha": 1e-4, "lr": 1e-3, "epochs": 30, "activation": "relu"}
BATCH = 200


def load_config(path: str | None) -> dict:
    config = dict(DEFAULTS)
    if path:
        text = Path(path).read_text()
        if path.endswith((".yaml", ".yml")):
            import yaml

            config.update(yaml.safe_load(text))
        elif path.endswith(".toml"):
            import tomllib

            config.update(tomllib.loads(text))
        else:
            config.update(json.loads(text))
    return config


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1797 8x8 digits scikit-learn bundles, read from its data file (without importing it)."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("train.py reads the digits bundled with scikit-learn: pip install -e '.[examples]'")
    data_file = Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(data_file, "rt") as rows:
        data = np.loadtxt(rows, delimiter=",")
    return data[:, :-1], data[:, -1].astype(int)


def split(y: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixed stratified splits: 60% train, 20% validation (what the search optimises), 20% test."""
    rng = np.random.RandomState(seed)
    parts: tuple[list[int], list[int], list[int]] = ([], [], [])
    for label in np.unique(y):
        members = rng.permutation(np.flatnonzero(y == label))
        val_at, test_at = round(0.6 * len(members)), round(0.8 * len(members))
        parts[0].extend(members[:val_at])
        parts[1].extend(members[val_at:test_at])
        parts[2].extend(members[test_at:])
    return tuple(np.sort(np.array(p)) for p in parts)  # type: ignore[return-value]


ACTIVATIONS = {
    # name: (activation, its derivative written in terms of the activation's output)
    "relu": (lambda z: np.maximum(z, 0.0), lambda a: (a > 0).astype(a.dtype)),
    "tanh": (np.tanh, lambda a: 1.0 - a * a),
    "logistic": (lambda z: 1.0 / (1.0 + np.exp(-z)), lambda a: a * (1.0 - a)),
}


class MLP:
    """One hidden layer and a softmax output, trained by Adam on the cross-entropy plus an L2 penalty."""

    def __init__(self, inputs: int, hidden: int, classes: int, activation: str, seed: int) -> None:
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, not {activation!r}")
        self.rng = np.random.RandomState(seed)
        self.act, self.act_grad = ACTIVATIONS[activation]
        # Glorot-uniform initial weights (the sigmoid's range is scaled up, as for a logistic unit).
        gain = 2.0 if activation == "logistic" else 6.0
        self.params = []
        for fan_in, fan_out in ((inputs, hidden), (hidden, classes)):
            bound = np.sqrt(gain / (fan_in + fan_out))
            self.params += [self.rng.uniform(-bound, bound, (fan_in, fan_out)), np.zeros(fan_out)]

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        w1, b1, w2, b2 = self.params
        return softmax(self.act(x @ w1 + b1) @ w2 + b2)

    def fit(self, x: np.ndarray, y: np.ndarray, alpha: float, lr: float, epochs: int) -> None:
        onehot = np.eye(self.params[3].size)[y]
        moments = [(np.zeros_like(p), np.zeros_like(p)) for p in self.params]
        beta1, beta2, eps, step = 0.9, 0.999, 1e-8, 0
        for _ in range(epochs):
            order = self.rng.permutation(len(x))
            for start in range(0, len(x), BATCH):
                batch = order[start : start + BATCH]
                step += 1
                grads = self.gradients(x[batch], onehot[batch], alpha / len(batch))
                for param, grad, (m, v) in zip(self.params, grads, moments, strict=True):
                    m *= beta1
                    m += (1 - beta1) * grad
                    v *= beta2
                    v += (1 - beta2) * grad * grad
                    scale = lr * np.sqrt(1 - beta2**step) / (1 - beta1**step)
                    param -= scale * m / (np.sqrt(v) + eps)

    def gradients(self, x: np.ndarray, onehot: np.ndarray, l2: float) -> list[np.ndarray]:
        w1, b1, w2, b2 = self.params
        hidden = self.act(x @ w1 + b1)
        delta_out = (softmax(hidden @ w2 + b2) - onehot) / len(x)
        delta_hidden = (delta_out @ w2.T) * self.act_grad(hidden)
        return [x.T @ delta_hidden + l2 * w1, delta_hidden.sum(0), hidden.T @ delta_out + l2 * w2, delta_out.sum(0)]


def softmax(z: np.ndarray) -> np.ndarray:
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def log_loss(y: np.ndarray, probabilities: np.ndarray) -> float:
    picked = np.clip(probabilities[np.arange(len(y)), y], 1e-15, 1.0)
    return float(-np.log(picked).mean())


def accuracy(y: np.ndarray, probabilities: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--report-test", action="store_true", help="also evaluate the held-back test split")
    args = parser.parse_args()
    config = load_config(args.config)
    seed = int(os.environ.get("AUTORESEARCH_SEED", "0"))

    x, y = load_digits()
    train, val, test = split(y)
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    x = (x - mean) / np.where(std > 0, std, 1.0)  # standardised with the training split's statistics

    model = MLP(x.shape[1], int(config["hidden"]), 10, str(config["activation"]), seed)
    start = time.perf_counter()
    model.fit(x[train], y[train], float(config["alpha"]), float(config["lr"]), int(config["epochs"]))
    train_seconds = time.perf_counter() - start

    probabilities = model.probabilities(x[val])
    print(f"config: {json.dumps(config, sort_keys=True)}", file=sys.stderr)
    print(f"val_loss: {log_loss(y[val], probabilities):.6f}")
    print(f"val_accuracy: {accuracy(y[val], probabilities):.6f}")
    print(f"train_seconds: {train_seconds:.3f}")
    if args.report_test:
        test_probabilities = model.probabilities(x[test])
        print(f"test_loss: {log_loss(y[test], test_probabilities):.6f}")
        print(f"test_accuracy: {accuracy(y[test], test_probabilities):.6f}")


if __name__ == "__main__":
    main()
