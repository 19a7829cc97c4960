"""Helpers shared by the tests and the benchmarks, kept out of the installed package.

Benchmarks run from the repository's root and put it on sys.path, so `from tests.support import ...`
works there as in the tests.
"""
