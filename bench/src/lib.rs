//! Benchmarks live in `benches/`; see the end-to-end script `bench/e2e.sh`.
