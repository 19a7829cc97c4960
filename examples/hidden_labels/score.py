"""The scorer: compare a run's predictions with the hidden labels and print `accuracy: <value>`.

autoresearch runs it after each experiment, in a sandboxed process of its own that sees the run's
output folder read-only and the hidden/ folder, which no experiment or proposer can see.
"""

import sys
from pathlib import Path


def read_labels(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines()[1:] if line.strip()]


def main() -> None:
    truth = read_labels(Path("hidden/test_labels.csv"))
    predicted = read_labels(Path(sys.argv[1]) / "predictions.csv")
    if len(predicted) != len(truth):
        sys.exit(f"expected {len(truth)} predictions, got {len(predicted)}")
    correct = sum(p == t for p, t in zip(predicted, truth, strict=True))
    print(f"accuracy: {correct / len(truth):.6f}")


if __name__ == "__main__":
    main()
