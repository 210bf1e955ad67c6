//! Micro-benchmarks of the engine's per-vote pure code: decode + validate, batching, the
//! batch's column preparation (in-batch dedup), and ack-range tracking.
//! Run: `cargo bench -p vote-bench --bench hot_path`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tokio::time::Instant;
use vote_engine::ack::AckTracker;
use vote_engine::batch::{BatchPolicy, Batcher};
use vote_engine::decode::decode;
use vote_engine::store::BatchColumns;
use vote_engine::store::RecentKeys;

fn body(i: usize) -> Vec<u8> {
    format!(
        r#"{{"vote_hash":"{:064x}","citizen_id":"citizen-{i}","law_id":"law-{:05}","choice":"{}","timestamp":"2026-11-23T12:00:00.123456Z"}}"#,
        i * 7919,
        i % 1000,
        if i.is_multiple_of(3) { "non" } else { "oui" }
    )
    .into_bytes()
}

fn decode_validate(c: &mut Criterion) {
    let plain = body(42);
    let envelope = format!(
        r#"{{"event_type":"vote.cast","event_version":1,"event_id":"8c1f","timestamp":"2026-11-23T12:00:00Z","producer":"p","data":{}}}"#,
        String::from_utf8(plain.clone()).unwrap_or_default()
    )
    .into_bytes();
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(1));
    group.bench_function("seed_json", |b| b.iter(|| decode(black_box(&plain))));
    group.bench_function("vote_cast_envelope", |b| b.iter(|| decode(black_box(&envelope))));
    group.bench_function("garbage", |b| b.iter(|| decode(black_box(b"{\"vote_hash\": 12"))));
    group.finish();
}

fn batching(c: &mut Criterion) {
    const N: usize = 1000;
    let votes: Vec<_> = (0..N).filter_map(|i| decode(&body(i)).ok()).collect();
    let policy = BatchPolicy { max_size: N, max_age: Duration::from_secs(1), linger: Duration::from_millis(2) };
    let mut group = c.benchmark_group("batch");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("push_take_1000", |b| {
        b.iter_batched(
            || votes.clone(),
            |votes| {
                let mut batcher = Batcher::new(policy);
                let now = Instant::now();
                for v in votes {
                    batcher.push(v, now);
                }
                black_box(batcher.is_ready(now, false));
                black_box(batcher.take())
            },
            BatchSize::SmallInput,
        )
    });
    let unseen = vec![true; N];
    group.bench_function("columns_1000", |b| b.iter(|| black_box(BatchColumns::new(black_box(&votes), &unseen))));
    // A fresh filter per iteration would time its 4 MiB allocation: one filter, new keys each time.
    let mut recent = RecentKeys::new();
    let mut round = 0u64;
    group.bench_function("recent_keys_1000", |b| {
        b.iter_batched(
            || {
                round += 1;
                let mut votes = votes.clone();
                for v in &mut votes {
                    v.vote_hash.push_str(&round.to_string());
                }
                votes
            },
            |votes| black_box(recent.first_sightings(&votes)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn ack_tracking(c: &mut Criterion) {
    const N: u64 = 10_000;
    let mut group = c.benchmark_group("ack");
    group.throughput(Throughput::Elements(N));
    group.bench_function("deliver_settle_in_batches_10000", |b| {
        b.iter(|| {
            let mut t = AckTracker::new();
            for tag in 1..=N {
                t.delivered(tag);
            }
            // Batches of 100 complete out of order, pairwise.
            let mut acks = 0;
            for pair in (0..N / 200).map(|k| k * 200) {
                for tag in (pair + 101)..=(pair + 200) {
                    t.settle(tag);
                }
                for tag in (pair + 1)..=(pair + 100) {
                    t.settle(tag);
                }
                acks += t.take_ack().is_some() as u32;
            }
            black_box(acks)
        })
    });
    group.finish();
}

criterion_group!(benches, decode_validate, batching, ack_tracking);
criterion_main!(benches);
