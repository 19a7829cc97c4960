"""The candidate: fit a classifier on data/train.csv and write predictions for data/test_features.csv.

It never sees the test labels and never prints the metric: it writes
$AUTORESEARCH_OUTPUT_DIR/predictions.csv, and the scorer (score.py, run by autoresearch in a process
of its own) compares them with hidden/test_labels.csv, which only the scorer can read.
"""

import argparse
import csv
import json
import os
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression


def load(path: str) -> np.ndarray:
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    config = json.loads(Path(parser.parse_args().config).read_text())
    train = load("data/train.csv")
    features, labels = train[:, :-1], train[:, -1].astype(int)
    if config["model"] == "forest":
        model = RandomForestClassifier(
            n_estimators=int(config["trees"]), max_depth=int(config["depth"]), random_state=0, n_jobs=1
        )
    else:
        model = LogisticRegression(C=float(config["C"]), max_iter=1000)
    model.fit(features, labels)
    predictions = model.predict(load("data/test_features.csv"))
    out = Path(os.environ["AUTORESEARCH_OUTPUT_DIR"]) / "predictions.csv"
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["label"])
        writer.writerows([int(p)] for p in predictions)
    print(f"wrote {len(predictions)} predictions to {out}")


if __name__ == "__main__":
    main()
