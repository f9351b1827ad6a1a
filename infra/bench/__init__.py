"""Benchmarks behind `make bench`. Each section module exposes `run() -> str`, a Markdown section with its figures
and how they were measured; `python -m infra.bench [section ...]` runs them and writes `docs/benchmarks.md`."""
