//! Promise: the sharded intake counts exactly. Votes are published to a consistent-hash exchange
//! keyed on the law id, which spreads them over 4 shard queues; every vote of a law, its
//! duplicates and revotes included, lands in the same shard, so the "first vote wins" rule of
//! one queue holds per law across shards. Two engines consume two shards each; one is killed
//! mid-drain, the other goes on with its shards, and the killed one restarted finishes its own:
//! exact totals, every garbage message in its shard's dead-letter queue. An engine can also be
//! given a list of queues (RABBITMQ_QUEUES), each with its own dead-letter queue.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use vote_loadgen::publish::{PublishConfig, publish};
use vote_loadgen::{Expected, GeneratorConfig};
use vote_mq::{QueueType, ShardSet};
use vote_reliability::*;

const SHARDS: u16 = 4;

/// A test's sharded intake: an exchange and shard queues of its own, named after its target.
struct Intake {
    target: Target,
    set: ShardSet,
}

impl Intake {
    /// Declares the intake with `vote-engine declare`, as an operator does before producers
    /// start.
    async fn declare(name: &str) -> Self {
        let target = Target::fresh(name).await;
        let exchange = format!("{}.votes", target.queue);
        let set = ShardSet::new(&exchange, &target.queue, SHARDS, QueueType::Quorum, "votes.dlx");
        let intake = Self { target, set };
        let (status, output) = intake.engine("0").args(["declare"]).run_to_exit(Duration::from_secs(30)).await;
        assert!(status.success(), "vote-engine declare failed ({status}):\n{output}");
        intake
    }

    /// Publishes `count` messages over `laws` equally popular laws to the exchange, all
    /// confirmed.
    async fn publish(&self, count: u64, laws: u32) -> Expected {
        let generator = GeneratorConfig { zipf: 0.0, ..generator(laws) };
        let config = PublishConfig {
            exchange: Some(self.set.exchange.clone()),
            ..PublishConfig::new(&self.target.queue, count, generator)
        };
        let report = publish(&self.target.amqp(), &config).await.expect("publish to the sharded intake");
        let e = &report.expected;
        println!(
            "published {} messages: {} unique votes, {} duplicates, {} garbage",
            e.messages_sent, e.total, e.duplicates_sent, e.invalid_sent
        );
        report.expected
    }

    /// An engine consuming the shards `indexes` (e.g. "0,1").
    fn engine(&self, indexes: &str) -> EngineCommand {
        let shards = SHARDS.to_string();
        self.target.engine().args(["--vote-shards", shards.as_str(), "--shard-indexes", indexes]).args([
            "--vote-exchange",
            self.set.exchange.as_str(),
            "--batch-size",
            "200",
        ])
    }

    async fn depth(&self, queue: &str) -> u32 {
        vote_mq::admin::message_count(&self.target.amqp(), queue).await.expect("RabbitMQ must be running")
    }

    async fn delete(&self) {
        let url = self.target.amqp();
        for shard in &self.set.shards {
            for queue in [&shard.queue, &shard.dead_letter_queue] {
                vote_mq::admin::delete_queue(&url, queue).await.expect("RabbitMQ must be running");
            }
        }
        vote_mq::admin::delete_exchange(&url, &self.set.exchange).await.expect("RabbitMQ must be running");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vote_of_a_law_lands_on_one_shard() {
    let _turn = turn().await;
    let intake = Intake::declare("shard_routing").await;
    let expected = intake.publish(6_000, 60).await;
    let url = intake.target.amqp();
    let mut shard_of_law: BTreeMap<String, BTreeSet<usize>> = BTreeMap::new();
    let mut held = 0;
    for (i, shard) in intake.set.shards.iter().enumerate() {
        let messages = vote_mq::take_messages(&url, &shard.queue, 10_000).await.expect("read a shard");
        held += messages.len() as u64;
        for message in messages {
            if let Ok(vote) = vote_engine::decode::decode(&message.body) {
                shard_of_law.entry(vote.law_id).or_default().insert(i);
            }
        }
    }
    assert_eq!(held, expected.messages_sent, "every confirmed message is in a shard, none twice");
    assert_eq!(shard_of_law.len(), 60, "every law was voted on");
    for (law, shards) in &shard_of_law {
        assert_eq!(shards.len(), 1, "{law} is spread over shards {shards:?}");
    }
    let used: BTreeSet<usize> = shard_of_law.values().flatten().copied().collect();
    assert_eq!(used.len(), usize::from(SHARDS), "60 laws use every shard");
    intake.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_two_engines_one_killed_mid_drain_count_exactly() {
    let _turn = turn().await;
    let intake = Intake::declare("sharded").await;
    let target = &intake.target;
    let expected = intake.publish(40_000, 40).await;
    let (first, second) = tokio::join!(intake.engine("0,1").start(), intake.engine("2,3").start());

    wait_until("the first engine has counted some of its shards", Duration::from_secs(120), async || {
        first.metric("batch_size_processed_total").await >= 3_000.0
    })
    .await;
    first.kill9().await;
    let (killed, left) = intake.set.shards.split_at(2);
    wait_until("the engine left drains its shards alone", Duration::from_secs(120), async || {
        intake.depth(&left[0].queue).await == 0 && intake.depth(&left[1].queue).await == 0
    })
    .await;
    let waiting = intake.depth(&killed[0].queue).await + intake.depth(&killed[1].queue).await;
    assert!(waiting > 0, "the killed engine's shards wait for it");
    println!("{waiting} messages wait in the killed engine's shards");
    let restarted = intake.engine("0,1").start().await;
    let report = assert_exact(target, &expected, Duration::from_secs(180)).await;
    println!("counted {} votes exactly across {SHARDS} shards", report.counted);

    let mut dead = 0;
    for shard in &intake.set.shards {
        let held = intake.depth(&shard.dead_letter_queue).await;
        for letter in read_queue(&target.amqp(), &shard.dead_letter_queue, held as usize).await {
            assert_refused_for_its_reason(&letter);
        }
        dead += u64::from(held);
    }
    // At least once: a garbage message dead-lettered but not yet acked when its engine was
    // killed is refused again on redelivery.
    assert!(dead >= expected.invalid_sent, "{dead} dead letters for {} garbage messages", expected.invalid_sent);
    for engine in [second, restarted] {
        let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
        assert!(status.success(), "{status}");
    }
    intake.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_given_several_queues_consumes_each_with_its_own_dead_letters() {
    let _turn = turn().await;
    let first = Target::fresh("queues_list").await;
    let second = Target { queue: format!("{}.b", first.queue), ..first.clone() };
    let expected_first = publish_backlog(&first, 3_000, generator(10)).await;
    let expected_second = publish_backlog(&second, 3_000, generator(10)).await;
    let queues = format!("{},{}", first.queue, second.queue);
    let engine = first.engine().args(["--rabbitmq-queues", queues.as_str()]).start().await;
    assert_exact(&first, &expected_first, Duration::from_secs(60)).await;
    assert_exact(&second, &expected_second, Duration::from_secs(60)).await;
    // Each queue's garbage in its own dead-letter queue, and only there.
    wait_for_dlq(&first, expected_first.invalid_sent, Duration::from_secs(30)).await;
    wait_for_dlq(&second, expected_second.invalid_sent, Duration::from_secs(30)).await;
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    first.delete_queues().await;
    second.delete_queues().await;
}
