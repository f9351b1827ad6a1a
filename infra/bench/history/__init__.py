"""The history function: page latency and round trips at 1k and 1M messages, and the export."""
