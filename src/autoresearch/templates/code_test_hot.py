"""Correctness of src/hot.py, run as the study's guard (protected: no candidate may change it)."""

import sys

sys.path.insert(0, "src")
from hot import sum_of_squares

for n in (0, 1, 2, 3, 10, 1000, 12345):
    expected = sum(i * i for i in range(n))
    assert sum_of_squares(n) == expected, f"sum_of_squares({n}) = {sum_of_squares(n)}, expected {expected}"
print("ok")
