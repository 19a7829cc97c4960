"""A metric printed as a curve raises no flag; a counted value that does not follow from it does."""

from __future__ import annotations

import math

from autoresearch.core.curves import ambiguity
from autoresearch.execute.metrics import measure

# A training run printing its validation loss per epoch (noisy, settling), the last line counting.
EPOCHS = [2.31, 1.52, 1.10, 0.93, 0.97, 0.88, 0.86, 0.87, 0.85]


def test_a_curve_is_not_ambiguous() -> None:
    output = "".join(f"epoch {i}\nval_loss: {v}\n" for i, v in enumerate(EPOCHS))
    measured = measure(output + "val_accuracy: 0.91\n", metric="val_loss")
    assert measured.objective == 0.85 and measured.ambiguous == {}
    assert ambiguity("val_loss", [0.5, 0.5, 0.5]) is None and ambiguity("x", [math.nan, math.nan]) is None
    assert ambiguity("val_loss", [0.5]) is None
    # Still descending, faster and faster: the last step is its largest, at the curve's own pace.
    assert ambiguity("val_loss", [0.531893, 0.494146, 0.452148, 0.396326, 0.320963, 0.241646]) is None
    # SGD at a high learning rate: the last step is its largest, but inside the curve's own range.
    assert ambiguity("val_loss", [1.1357, 1.0928, 1.0569, 1.0170, 1.0023, 1.0991]) is None


def test_a_fake_last_line_is_ambiguous() -> None:
    # After a real curve, one line printed later (atexit, a background thread) with a better number.
    measured = measure("".join(f"val_loss: {v}\n" for v in [*EPOCHS, 0.01]), metric="val_loss")
    assert measured.objective == 0.01
    assert measured.ambiguous["val_loss"].startswith("the last val_loss printed (0.01, which counts) leaves its curve")
    # The real value, then a fake one: two numbers and no curve to tell which is real.
    two = measure("loss: 2.0\nloss: 0.0\n", metric="loss")
    assert two.ambiguous == {
        "loss": "printed loss twice with different values (2, then 0; the last counts): a curve has 3 or more points"
    }
    # A last value worse than the curve by a jump is as ambiguous: the rule is about following, not direction.
    assert ambiguity("val_loss", [*EPOCHS, 9.0]) is not None
