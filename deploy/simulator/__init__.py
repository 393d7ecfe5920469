"""Simulators of the system's outside world, for demos, tests and benchmarks."""
