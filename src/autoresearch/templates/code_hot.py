"""The code the study speeds up (a starter from `autoresearch init --template code`: use your own)."""


def sum_of_squares(n: int) -> int:
    """0*0 + 1*1 + ... + (n-1)*(n-1)."""
    total = 0
    for i in range(n):
        total = total + i * i
    return total
