"""Helpers shared by the tests and the benchmarks: real servers and test data."""
