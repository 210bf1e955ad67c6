//! Promise: a lost broker connection is re-established with backoff, the topology re-declared
//! and consumption resumed, by the engine itself; redeliveries are absorbed by the counting rule.
//! The engine reaches RabbitMQ through a proxy the test cuts three times mid-drain.

use std::time::Duration;

use tokio::time::Instant;
use vote_reliability::*;
use vote_runtime::testing::TcpProxy;

const BACKLOG: u64 = 40_000;
const CUTS: [f64; 3] = [0.2, 0.5, 0.8];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_reconnects_after_its_broker_connection_is_cut_three_times() {
    let _turn = turn().await;
    let target = Target::fresh("broker_cut").await;
    let expected = publish_backlog(&target, BACKLOG, generator(50)).await;
    let proxy = TcpProxy::start(&target.amqp_address()).await;
    let through_proxy = via(&target.amqp_url, &format!("127.0.0.1:{}", proxy.port()));
    let mut engine = target.engine_via(&through_proxy, &target.db_url).args(["--batch-size", "50"]).start().await;
    for (cut, fraction) in CUTS.into_iter().enumerate() {
        let point = (expected.total as f64 * fraction) as u64;
        wait_until("the drain reaches the cut", Duration::from_secs(120), async || target.counted().await >= point)
            .await;
        proxy.cut();
        let cut_at = Instant::now();
        let counted_at_cut = target.counted().await;
        assert!(counted_at_cut < expected.total, "cut {} landed after the drain ended", cut + 1);
        // Not consuming: not ready, but alive.
        engine.wait_readyz(503, Duration::from_secs(10)).await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        engine.assert_running("while the broker was unreachable");
        proxy.restore();
        let restored_at = Instant::now();
        engine.wait_ready(Duration::from_secs(30)).await;
        let ready_in = restored_at.elapsed();
        let counted = target.counted().await;
        wait_until("counting resumes after the cut", Duration::from_secs(60), async || {
            target.counted().await > counted
        })
        .await;
        println!(
            "cut #{}: {counted_at_cut} of {} votes committed; link down {:.2} s; ready {:.2} s and counting {:.2} s after restore",
            cut + 1,
            expected.total,
            (restored_at - cut_at).as_secs_f64(),
            ready_in.as_secs_f64(),
            restored_at.elapsed().as_secs_f64()
        );
    }
    assert_exact(&target, &expected, Duration::from_secs(180)).await;
    let reconnects = engine.metric("broker_reconnects_total").await;
    assert!(reconnects >= CUTS.len() as f64, "{reconnects} reconnects for {} cuts", CUTS.len());

    assert_dead_letters_at_least_once(&target, &expected, Duration::from_secs(30)).await;
    println!("{reconnects} reconnects");
    engine.assert_running("after the drain");
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    assert_eq!(target.queue_depth().await, 0);
    target.delete_queues().await;
}
