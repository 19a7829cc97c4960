"""Protected correctness check (the guard): count_primes must stay right."""

from hot import count_primes

KNOWN = {0: 0, 1: 0, 2: 0, 3: 1, 10: 4, 100: 25, 1000: 168, 7919: 999, 7920: 1000, 10000: 1229}
for n, expected in KNOWN.items():
    got = count_primes(n)
    assert got == expected, f"count_primes({n}) = {got}, expected {expected}"
print("ok")
