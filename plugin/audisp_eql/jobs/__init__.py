"""`scan --jobs N`: building and single-event matching in worker processes,
merged in input order (parallel.py: the design; tracking.py: the builders'
state split between processes; worker.py: a worker)."""

from .parallel import JobStats, ParallelPipeline, build_parallel

__all__ = ["JobStats", "ParallelPipeline", "build_parallel"]
