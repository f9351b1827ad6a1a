"""Operations tooling: migrations, packaging, the local gateway, sample events, benchmarks."""
