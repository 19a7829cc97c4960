"""Train a small neural network on scikit-learn's bundled handwritten digits.

Reads hyperparameters from a JSON/YAML/TOML file (`--config`), trains on the training split and prints
the validation metrics autoresearch reads (`val_loss: ...`). A test split is held back: it is never
printed during the search; `--report-test` evaluates it once you have chosen a configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, log_loss
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

DEFAULTS = {"hidden": 32, "alpha": 1e-4, "lr": 1e-3, "epochs": 30, "activation": "relu"}


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config")
    parser.add_argument("--report-test", action="store_true", help="also evaluate the held-back test split")
    args = parser.parse_args()
    config = load_config(args.config)
    seed = int(os.environ.get("AUTORESEARCH_SEED", "0"))

    x, y = load_digits(return_X_y=True)
    # Fixed splits: 60% train, 20% validation (what the search optimises), 20% test (held back).
    x_rest, x_test, y_rest, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    x_train, x_val, y_train, y_val = train_test_split(x_rest, y_rest, test_size=0.25, random_state=0, stratify=y_rest)
    scaler = StandardScaler().fit(x_train)

    model = MLPClassifier(
        hidden_layer_sizes=(int(config["hidden"]),),
        alpha=float(config["alpha"]),
        learning_rate_init=float(config["lr"]),
        max_iter=int(config["epochs"]),
        activation=str(config["activation"]),
        random_state=seed,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaler.transform(x_train), y_train)
    train_seconds = time.perf_counter() - start

    probabilities = model.predict_proba(scaler.transform(x_val))
    print(f"config: {json.dumps(config, sort_keys=True)}", file=sys.stderr)
    print(f"val_loss: {log_loss(y_val, probabilities, labels=model.classes_):.6f}")
    print(f"val_accuracy: {accuracy_score(y_val, probabilities.argmax(axis=1)):.6f}")
    print(f"train_seconds: {train_seconds:.3f}")
    if args.report_test:
        test_probabilities = model.predict_proba(scaler.transform(x_test))
        print(f"test_loss: {log_loss(y_test, test_probabilities, labels=model.classes_):.6f}")
        print(f"test_accuracy: {accuracy_score(y_test, test_probabilities.argmax(axis=1)):.6f}")


if __name__ == "__main__":
    main()
