//! Promise: `amqps://` URLs work, with `?cacertfile=` to trust a private CA. The test puts a
//! TLS-terminating proxy (its own CA, a certificate for `localhost`) in front of RabbitMQ; the
//! engine consumes and dead-letters through it and counts exactly. The same proxy refuses an
//! engine that trusts another CA, or that reaches it by a name the certificate does not carry.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use rustls::pki_types::PrivateKeyDer;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use vote_reliability::*;

/// Terminates TLS on a local port and forwards the plain stream to RabbitMQ.
struct TlsProxy {
    port: u16,
    handshakes: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsProxy {
    async fn start(pki: &Pki, upstream: String) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(pki.chain.clone(), PrivateKeyDer::Pkcs8(pki.key.clone_key()))
            .expect("server certificate and key");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the TLS proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let handshakes = Arc::new(AtomicUsize::new(0));
        let counter = handshakes.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (acceptor, counter, upstream) = (acceptor.clone(), counter.clone(), upstream.clone());
                tokio::spawn(async move {
                    let _ = client.set_nodelay(true);
                    let Ok(mut tls) = acceptor.accept(client).await else { return };
                    counter.fetch_add(1, Ordering::SeqCst);
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    let _ = server.set_nodelay(true);
                    let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                });
            }
        });
        Self { port, handshakes, task }
    }
}

impl Drop for TlsProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The target's broker URL, as `amqps://` through `address`, trusting `ca`.
fn amqps_url(target: &Target, address: &str, ca: &CaFile) -> String {
    let url = via(&target.amqp_url, address).replacen("amqp://", "amqps://", 1);
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}cacertfile={}", ca.0.display())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_consumes_and_counts_exactly_over_amqps() {
    let _turn = turn().await;
    let target = Target::fresh("amqps").await;
    let authority = pki("localhost");
    let proxy = TlsProxy::start(&authority, target.amqp_address()).await;
    let ca = CaFile::write(&authority.ca_pem);
    let expected = publish_backlog(&target, 10_000, generator(20)).await;

    let url = amqps_url(&target, &format!("localhost:{}", proxy.port), &ca);
    let engine = target.engine_via(&url, &target.db_url).args(["--batch-size", "100"]).start().await;
    assert_exact(&target, &expected, Duration::from_secs(120)).await;
    // Dead letters are published over TLS too.
    wait_for_dlq(&target, expected.invalid_sent, Duration::from_secs(30)).await;
    let handshakes = proxy.handshakes.load(Ordering::SeqCst);
    assert!(handshakes >= 2, "{handshakes} TLS handshakes: the consumer and the dead-letter publisher each need one");
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    println!("{} votes counted exactly over amqps:// ({handshakes} TLS sessions)", expected.total);

    // The certificate is checked: another CA, or a name the certificate does not carry, and the
    // engine does not consume (it retries, not ready).
    let other_ca = CaFile::write(&pki("localhost").ca_pem);
    let refused = [
        ("an unknown CA", amqps_url(&target, &format!("localhost:{}", proxy.port), &other_ca)),
        ("a name not in the certificate", amqps_url(&target, &format!("127.0.0.1:{}", proxy.port), &ca)),
    ];
    for (why, url) in refused {
        let mut engine = target.engine_via(&url, &target.db_url).spawn().await;
        wait_until(&format!("the engine refuses {why}"), Duration::from_secs(30), async || {
            engine.output().contains("cannot consume")
        })
        .await;
        assert_eq!(engine.readyz().await, Some(503), "ready through {why}");
        engine.assert_running(&format!("after refusing {why}"));
        let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
        assert!(status.success(), "{status}");
    }
    assert_eq!(target.queue_depth().await, 0);
    target.delete_queues().await;
}
