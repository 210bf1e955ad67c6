//! The limits against real TCP connections to [`serve`]: a router with one write and one read
//! route, the test identity provider's keys, short timeouts.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use axum::routing;
use governor::Quota;
use prometheus::Registry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::auth::testing::{forged_token, settings, token};
use crate::auth::{Authenticator, Caller};
use crate::metrics::Metrics;

const TIMEOUT: Duration = Duration::from_millis(300);

fn limits() -> HttpLimits {
    HttpLimits {
        header_timeout: TIMEOUT,
        request_timeout: TIMEOUT,
        max_connections: 64,
        rate: Some(Quota::per_second(NonZeroU32::new(1).unwrap()).allow_burst(NonZeroU32::new(2).unwrap())),
        exempt_roles: vec!["order-callback".to_owned()],
        max_body: crate::http::MAX_BODY_BYTES,
    }
}

/// Serves the test router within `limits`; its address and the token that stops it.
async fn start(limits: HttpLimits) -> (SocketAddr, CancellationToken) {
    let api = Router::new()
        .route(
            "/w",
            routing::post(|caller: Caller| async move { caller.subject().to_owned() }).get(|| async { "read" }),
        )
        .route("/open", routing::post(|| async { "ok" }));
    let authenticator = Authenticator::from_settings(&settings()).unwrap();
    let metrics = Metrics::register(&Registry::new()).unwrap();
    let router = crate::http::finish(api, Router::new(), metrics, Some(authenticator), &limits);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    let token = stop.clone();
    tokio::spawn(async move { serve(listener, router, &limits, token).await.unwrap() });
    (address, stop)
}

/// Sends `raw` and reads until the server closes or `wait` passes: what came, and whether the
/// connection was closed.
async fn exchange(address: SocketAddr, raw: &[u8], wait: Duration) -> (String, bool) {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(raw).await.unwrap();
    read_until_closed(&mut stream, wait).await
}

async fn read_until_closed(stream: &mut TcpStream, wait: Duration) -> (String, bool) {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + wait;
    let mut buffer = [0u8; 4096];
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
        }
    }
}

fn post(path: &str, token: Option<&str>) -> Vec<u8> {
    let auth = token.map(|t| format!("authorization: Bearer {t}\r\n")).unwrap_or_default();
    format!("POST {path} HTTP/1.1\r\nhost: x\r\n{auth}content-length: 0\r\nconnection: close\r\n\r\n").into_bytes()
}

fn status(answer: &str) -> &str {
    answer.get(9..12).unwrap_or("")
}

#[tokio::test]
async fn idle_and_half_sent_connections_are_closed_after_the_header_timeout() {
    let (address, stop) = start(limits()).await;
    let started = Instant::now();
    let mut connections = Vec::new();
    for i in 0..40 {
        let mut stream = TcpStream::connect(address).await.unwrap();
        if i % 2 == 1 {
            stream.write_all(b"GET /w HTTP/1.1\r\nhost: x\r\nx-never-ends: ").await.unwrap();
        }
        connections.push(stream);
    }
    for stream in &mut connections {
        let (_, closed) = read_until_closed(stream, Duration::from_secs(3)).await;
        assert!(closed, "a connection was still open after {:?}", started.elapsed());
    }
    assert!(started.elapsed() < Duration::from_secs(3), "closed after {:?}", started.elapsed());
    stop.cancel();
}

#[tokio::test]
async fn connections_beyond_the_bound_wait_until_one_is_free() {
    let (address, stop) =
        start(HttpLimits { max_connections: 2, header_timeout: Duration::from_secs(5), ..limits() }).await;
    let first = TcpStream::connect(address).await.unwrap();
    let _second = TcpStream::connect(address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = TcpStream::connect(address).await.unwrap();
    third.write_all(b"GET /w HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.unwrap();
    let (answer, _) = read_until_closed(&mut third, Duration::from_millis(500)).await;
    assert_eq!(answer, "", "served beyond the bound");
    drop(first);
    let (answer, closed) = read_until_closed(&mut third, Duration::from_secs(3)).await;
    assert!(closed && status(&answer) == "200", "{answer}");
    stop.cancel();
}

#[tokio::test]
async fn write_requests_over_a_callers_rate_get_429_with_retry_after() {
    let (address, stop) = start(limits()).await;
    let alice = token("alice", &[]);
    let wait = Duration::from_secs(3);
    for _ in 0..2 {
        let (answer, _) = exchange(address, &post("/w", Some(&alice)), wait).await;
        assert_eq!(status(&answer), "200", "{answer}");
        assert!(answer.ends_with("alice"), "{answer}");
    }
    let (answer, _) = exchange(address, &post("/w", Some(&alice)), wait).await;
    assert_eq!(status(&answer), "429", "{answer}");
    assert!(answer.to_ascii_lowercase().contains("\r\nretry-after: 1\r\n"), "{answer}");
    assert!(answer.contains(r#"{"error":"too many write requests from this caller; retry after 1 s"}"#), "{answer}");
    // Another caller has their own budget; reads are not limited; forged tokens naming alice
    // spend the address's budget, not hers.
    let (answer, _) = exchange(address, &post("/w", Some(&token("bob", &[]))), wait).await;
    assert_eq!(status(&answer), "200", "{answer}");
    let (answer, _) = exchange(address, b"GET /w HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n", wait).await;
    assert_eq!(status(&answer), "200", "{answer}");
    // A service account of an exempt role writes for many people: never limited.
    let callback = post("/w", Some(&token("order-callback", &["order-callback"])));
    for _ in 0..5 {
        assert_eq!(status(&exchange(address, &callback, wait).await.0), "200");
    }
    let forged = post("/open", Some(&forged_token("alice", &[])));
    let statuses: Vec<String> = futures::future::join_all((0..3).map(|_| exchange(address, &forged, wait)))
        .await
        .into_iter()
        .map(|(answer, _)| status(&answer).to_owned())
        .collect();
    assert_eq!(statuses.iter().filter(|s| *s == "429").count(), 1, "{statuses:?}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (answer, _) = exchange(address, &post("/w", Some(&alice)), wait).await;
    assert_eq!(status(&answer), "200", "alice's budget came back: {answer}");
    stop.cancel();
}

#[tokio::test]
async fn a_request_line_that_is_not_http_gets_a_json_400() {
    let (address, stop) = start(limits()).await;
    let (answer, closed) =
        exchange(address, b"GET /polls/\xff\xfe HTTP/1.1\r\nhost: x\r\n\r\n", Duration::from_secs(3)).await;
    assert!(closed);
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"), "{answer}");
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(body["error"].as_str().unwrap().contains("not valid HTTP"), "{body}");
    stop.cancel();
}

#[tokio::test]
async fn a_body_slower_than_the_request_timeout_gets_408() {
    let (address, stop) = start(limits()).await;
    let raw = b"POST /open HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\ncontent-type: application/json\r\n\r\n{\"";
    let started = Instant::now();
    let (answer, _) = exchange(address, raw, Duration::from_secs(3)).await;
    assert_eq!(status(&answer), "408", "{answer}");
    assert!(answer.contains(r#"{"error":"the request body did not arrive within 300 ms"}"#), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2));
    stop.cancel();
}
