"""Benchmark harness for audisp-eql (`make bench`); prints figures, asserts nothing."""
