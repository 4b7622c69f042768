"""funcgrad benchmarks (``python -m benchmarks.run``)."""
