"""Speed benchmarks of issue 3: `python -m benchmarks [--quick]` (see __main__.py); never run by the tests."""
