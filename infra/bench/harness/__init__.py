"""What the benchmarks share: a fresh database, apps built in process, one ASGI request, the backend in a process
of its own, a fake model server, paired runs against a baseline, and how figures are written."""
