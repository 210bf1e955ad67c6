//! The satellites' consumer loop against the real broker: ack after success, bounded retries
//! then dead-letter, immediate dead-letter of malformed input and of permanent failures,
//! reconnect after the connection drops, clean stop; plain (non-envelope) messages through a
//! decoder, on a queue a producer declared first.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vote_mq::REJECT_REASON_HEADER;
use vote_mq::consumer::{ATTEMPTS_HEADER, ORIGINAL_ROUTING_KEY_HEADER};
use vote_mq::{
    AmqpUrl, Consumer, Delivery, Envelope, Failure, Incoming, OutgoingMessage, Publisher, QueueTopology,
    RedeliveryPolicy, SubscriptionConfig, declare_topology, take_messages,
};
use vote_runtime::testing::{TcpProxy, amqp_url, unique_name};

#[derive(Debug, thiserror::Error)]
enum TestError {
    #[error("try again")]
    Transient,
    #[error("never")]
    Permanent,
}

impl Failure for TestError {
    fn is_retriable(&self) -> bool {
        matches!(self, TestError::Transient)
    }
}

struct Setup {
    url: AmqpUrl,
    exchange: String,
    config: SubscriptionConfig,
    publisher: Arc<Publisher>,
}

async fn setup(url: AmqpUrl) -> Setup {
    let queue = unique_name("svc_q");
    let exchange = unique_name("svc_x");
    let topology = QueueTopology::new(&queue, &unique_name("svc_dlx"), &format!("{queue}.dlq"));
    let config = SubscriptionConfig {
        topology,
        bindings: Some((exchange.clone(), vec!["test.#".to_owned()])),
        prefetch: 10,
        name: queue,
    };
    let direct = AmqpUrl::parse(&amqp_url()).expect("TEST_AMQP_URL");
    let publisher = Publisher::connect(&direct, "svc-test").await.expect("RabbitMQ must be running for this test");
    Setup { url, exchange, config, publisher: Arc::new(publisher) }
}

fn fast_retries(max_attempts: u32) -> RedeliveryPolicy {
    RedeliveryPolicy { max_attempts, initial_delay: Duration::from_millis(20), max_delay: Duration::from_millis(50) }
}

/// Starts the consumer and waits until it is subscribed (so published events are routed).
async fn start<F, Fut>(s: &Setup, retry: RedeliveryPolicy, handler: F) -> (CancellationToken, JoinHandle<()>)
where
    F: Fn(Envelope) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), TestError>> + Send + 'static,
{
    let consumer = Consumer::new(&s.url, s.config.clone(), s.publisher.clone()).with_retry(retry);
    let connected = consumer.connected();
    let token = CancellationToken::new();
    let task = tokio::spawn(consumer.run(token.clone(), handler));
    wait_for(|| connected.load(Ordering::Relaxed)).await;
    (token, task)
}

async fn wait_for(mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("condition not met within 5 s");
}

async fn send(s: &Setup, body: Vec<u8>) {
    s.publisher.publish(&OutgoingMessage::json(&s.exchange, "test.event", body)).await.expect("publish");
}

async fn dead_letters(s: &Setup, expected: usize) -> Vec<Delivery> {
    let direct = AmqpUrl::parse(&amqp_url()).expect("TEST_AMQP_URL");
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen.extend(take_messages(&direct, &s.config.topology.dead_letter_queue, expected).await.expect("get"));
        if seen.len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

/// Messages waiting in the dead-letter queue, left there.
async fn dead_letters_waiting(s: &Setup) -> u32 {
    let direct = AmqpUrl::parse(&amqp_url()).expect("TEST_AMQP_URL");
    vote_mq::admin::message_count(&direct, &s.config.topology.dead_letter_queue).await.expect("queue depth")
}

fn counting_handler(
    calls: Arc<AtomicU32>,
    result: impl Fn(u32) -> Result<(), TestError> + Send + Sync + 'static,
) -> impl Fn(Envelope) -> std::future::Ready<Result<(), TestError>> + Send + Sync + 'static {
    move |_event| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        std::future::ready(result(n))
    }
}

#[tokio::test]
async fn handled_events_are_acked_once() {
    let s = setup(AmqpUrl::parse(&amqp_url()).unwrap()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let (token, task) = start(&s, fast_retries(3), counting_handler(calls.clone(), |_| Ok(()))).await;
    send(&s, Envelope::new("test.event", "t", serde_json::json!({"n": 1})).to_bytes()).await;
    wait_for(|| calls.load(Ordering::SeqCst) == 1).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    token.cancel();
    task.await.unwrap();
    // Acked: a new subscription gets nothing more, and nothing was dead-lettered.
    let (token, task) = start(&s, fast_retries(3), counting_handler(calls.clone(), |_| Ok(()))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    token.cancel();
    task.await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(dead_letters_waiting(&s).await, 0, "nothing dead-lettered");
}

#[tokio::test]
async fn retriable_failures_are_retried_then_dead_lettered() {
    let s = setup(AmqpUrl::parse(&amqp_url()).unwrap()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let (token, task) =
        start(&s, fast_retries(3), counting_handler(calls.clone(), |_| Err(TestError::Transient))).await;
    let event = Envelope::new("test.event", "t", serde_json::json!({"n": 2}));
    send(&s, event.to_bytes()).await;
    let dead = dead_letters(&s, 1).await;
    token.cancel();
    task.await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3, "exactly max_attempts attempts");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, event.to_bytes(), "the original body is kept");
    assert_eq!(dead[0].header(ATTEMPTS_HEADER).as_deref(), Some("3"));
    assert_eq!(dead[0].header(ORIGINAL_ROUTING_KEY_HEADER).as_deref(), Some("test.event"));
    let reason = dead[0].header(REJECT_REASON_HEADER).unwrap();
    assert!(reason.starts_with("retries exhausted after 3 attempts"), "{reason}");
}

#[tokio::test]
async fn a_transient_failure_then_success_is_not_dead_lettered() {
    let s = setup(AmqpUrl::parse(&amqp_url()).unwrap()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let handler = counting_handler(calls.clone(), |n| if n < 3 { Err(TestError::Transient) } else { Ok(()) });
    let (token, task) = start(&s, fast_retries(5), handler).await;
    send(&s, Envelope::new("test.event", "t", serde_json::json!({})).to_bytes()).await;
    wait_for(|| calls.load(Ordering::SeqCst) == 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    token.cancel();
    task.await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(dead_letters_waiting(&s).await, 0, "nothing dead-lettered");
}

#[tokio::test]
async fn malformed_messages_are_dead_lettered_at_once_without_calling_the_handler() {
    let s = setup(AmqpUrl::parse(&amqp_url()).unwrap()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let (token, task) = start(&s, fast_retries(5), counting_handler(calls.clone(), |_| Ok(()))).await;
    send(&s, b"{definitely not json".to_vec()).await;
    let dead = dead_letters(&s, 1).await;
    token.cancel();
    task.await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, b"{definitely not json");
    let reason = dead[0].header(REJECT_REASON_HEADER).unwrap();
    assert!(reason.starts_with("malformed: not an event envelope"), "{reason}");
}

#[tokio::test]
async fn permanent_handler_errors_are_dead_lettered_at_once() {
    let s = setup(AmqpUrl::parse(&amqp_url()).unwrap()).await;
    let calls = Arc::new(AtomicU32::new(0));
    let (token, task) =
        start(&s, fast_retries(5), counting_handler(calls.clone(), |_| Err(TestError::Permanent))).await;
    send(&s, Envelope::new("test.event", "t", serde_json::json!({})).to_bytes()).await;
    let dead = dead_letters(&s, 1).await;
    token.cancel();
    task.await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(dead[0].header(REJECT_REASON_HEADER).as_deref(), Some("rejected: never"));
}

#[tokio::test]
async fn shutdown_finishes_the_in_flight_event_then_returns() {
    let s = setup(AmqpUrl::parse(&amqp_url()).unwrap()).await;
    let started = Arc::new(AtomicBool::new(false));
    let finished = Arc::new(AtomicBool::new(false));
    let (st, fi) = (started.clone(), finished.clone());
    let handler = move |_event: Envelope| {
        let (st, fi) = (st.clone(), fi.clone());
        async move {
            st.store(true, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(300)).await;
            fi.store(true, Ordering::SeqCst);
            Ok::<(), TestError>(())
        }
    };
    let (token, task) = start(&s, fast_retries(3), handler).await;
    send(&s, Envelope::new("test.event", "t", serde_json::json!({})).to_bytes()).await;
    wait_for(|| started.load(Ordering::SeqCst)).await;
    token.cancel();
    tokio::time::timeout(Duration::from_secs(5), task).await.expect("stops promptly").unwrap();
    assert!(finished.load(Ordering::SeqCst), "the in-flight handler ran to completion");
}

#[tokio::test]
async fn reconnects_after_the_connection_drops() {
    let direct = AmqpUrl::parse(&amqp_url()).unwrap();
    let proxy = TcpProxy::start(&format!("{}:{}", direct.host, direct.port)).await;
    let mut proxied = direct.clone();
    proxied.host = "127.0.0.1".to_owned();
    proxied.port = proxy.port();
    let s = setup(proxied).await;
    let seen: Arc<std::sync::Mutex<Vec<u64>>> = Arc::default();
    let record = seen.clone();
    let handler = move |event: Envelope| {
        record.lock().unwrap().push(event.data["n"].as_u64().unwrap_or(0));
        std::future::ready(Ok::<(), TestError>(()))
    };
    let consumer = Consumer::new(&s.url, s.config.clone(), s.publisher.clone()).with_retry(fast_retries(3));
    let connected = consumer.connected();
    let token = CancellationToken::new();
    let task = tokio::spawn(consumer.run(token.clone(), handler));
    wait_for(|| connected.load(Ordering::Relaxed)).await;
    send(&s, Envelope::new("test.event", "t", serde_json::json!({"n": 1})).to_bytes()).await;
    wait_for(|| seen.lock().unwrap().contains(&1)).await;

    proxy.cut();
    wait_for(|| !connected.load(Ordering::Relaxed)).await;
    // Published while the consumer cannot reach the broker (sent directly): delivered once it is
    // back. Event 1 may be handled again if the cut came before its ack reached the broker.
    send(&s, Envelope::new("test.event", "t", serde_json::json!({"n": 2})).to_bytes()).await;
    proxy.restore();
    wait_for(|| seen.lock().unwrap().contains(&2)).await;
    assert!(connected.load(Ordering::Relaxed));
    token.cancel();
    task.await.unwrap();
}

/// What the test decoder makes of a message: its number and message id.
type Decoded = (u32, Option<String>);

#[tokio::test]
async fn run_with_decodes_plain_messages_and_dead_letters_what_the_decoder_refuses() {
    let url = AmqpUrl::parse(&amqp_url()).unwrap();
    let queue = unique_name("svc_plain");
    let config = SubscriptionConfig {
        topology: QueueTopology::new(&queue, &unique_name("svc_dlx"), &format!("{queue}.dlq")),
        bindings: None,
        prefetch: 10,
        name: queue.clone(),
    };
    // Declared before any consumer exists: what a producer does, so nothing published is lost.
    declare_topology(&url, &config).await.expect("RabbitMQ must be running for this test");
    let publisher = Arc::new(Publisher::connect(&url, "svc-test").await.unwrap());
    let mut plain = OutgoingMessage::json("", &queue, br#"{"n": 7}"#.to_vec());
    plain.message_id = Some("m-7".to_owned());
    publisher.publish(&plain).await.unwrap();
    publisher.publish(&OutgoingMessage::json("", &queue, br#"{"n": "seven"}"#.to_vec())).await.unwrap();

    let seen: Arc<std::sync::Mutex<Vec<Decoded>>> = Arc::default();
    let record = seen.clone();
    let consumer = Consumer::new(&url, config.clone(), publisher.clone()).with_retry(fast_retries(3));
    let token = CancellationToken::new();
    let decode = |m: Incoming<'_>| {
        let value: serde_json::Value = serde_json::from_slice(m.body).map_err(|e| e.to_string())?;
        let n = value["n"].as_u64().ok_or("'n' must be a number")?;
        Ok((n as u32, m.message_id.map(str::to_owned)))
    };
    let handler = move |decoded: Decoded| {
        record.lock().unwrap().push(decoded);
        std::future::ready(Ok::<(), TestError>(()))
    };
    let task = tokio::spawn(consumer.run_with(token.clone(), decode, handler));
    wait_for(|| !seen.lock().unwrap().is_empty()).await;
    let direct = AmqpUrl::parse(&amqp_url()).unwrap();
    let mut dead = Vec::new();
    for _ in 0..100 {
        dead.extend(take_messages(&direct, &config.topology.dead_letter_queue, 1).await.unwrap());
        if !dead.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    token.cancel();
    task.await.unwrap();
    assert_eq!(*seen.lock().unwrap(), [(7, Some("m-7".to_owned()))]);
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].header(REJECT_REASON_HEADER).as_deref(), Some("malformed: 'n' must be a number"));
}
