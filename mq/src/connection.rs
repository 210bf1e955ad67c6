//! Opening broker connections, and running one-off operations on a channel of their own.

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use amqprs::callbacks::DefaultConnectionCallback;
use amqprs::channel::Channel;
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::tls::TlsAdaptor;

use crate::{AmqpUrl, Error};

/// Longest wait for TCP connect + TLS + AMQP handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens one connection to the first node of `url` that answers (in the order given), with
/// heartbeats, TLS for `amqps`, and `name` shown in the management UI. Every reconnect starts
/// again from the first node, so clients return to it once it is back.
pub async fn connect(url: &AmqpUrl, name: &str) -> Result<Connection, Error> {
    first_answering(url, |node| connect_node(node, name)).await
}

/// The first of `url`'s nodes for which `open` succeeds; the last node's error when none does.
pub(crate) async fn first_answering<'a, T, F>(
    url: &'a AmqpUrl,
    mut open: impl FnMut(&'a AmqpUrl) -> F,
) -> Result<T, Error>
where
    F: Future<Output = Result<T, Error>>,
{
    let mut nodes = url.nodes().peekable();
    loop {
        let node = nodes.next().expect("a URL has at least one node");
        match open(node).await {
            Ok(opened) => return Ok(opened),
            Err(e) if nodes.peek().is_some() => {
                tracing::warn!(broker = %node.redacted_node(), error = %e, "broker node did not answer, trying the next");
            }
            Err(e) => return Err(e),
        }
    }
}

async fn connect_node(url: &AmqpUrl, name: &str) -> Result<Connection, Error> {
    let mut args = OpenConnectionArguments::new(&url.host, url.port, &url.username, &url.password);
    args.virtual_host(&url.vhost).heartbeat(url.heartbeat).connection_name(name);
    if url.tls {
        install_crypto_provider();
        let adaptor = TlsAdaptor::without_client_auth(url.ca_cert_file.as_deref().map(Path::new), url.host.clone())
            .map_err(|e| Error::Tls(e.to_string()))?;
        args.tls_adaptor(adaptor);
    }
    // Without a bound, a broker that accepts TCP but never answers the handshake (a node that is
    // starting or stalled, a half-open link) would hold a reconnect loop forever.
    let connection = tokio::time::timeout(CONNECT_TIMEOUT, Connection::open(&args.finish()))
        .await
        .map_err(|_| Error::Timeout(CONNECT_TIMEOUT))??;
    connection.register_callback(DefaultConnectionCallback).await?;
    Ok(connection)
}

/// rustls needs one process-wide crypto provider; a second install is a harmless no-op.
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Longest wait for the broker to answer a close.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs `operation` on a connection and channel of its own, named `name` in the management UI,
/// then closes both (bounded, whatever the outcome): for declarations, admin calls and other
/// one-off operations.
pub async fn with_channel<T>(
    url: &AmqpUrl,
    name: &str,
    operation: impl AsyncFnOnce(&Connection, &Channel) -> Result<T, Error>,
) -> Result<T, Error> {
    let connection = connect(url, name).await?;
    let channel = match connection.open_channel(None).await {
        Ok(channel) => channel,
        Err(e) => {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, connection.close()).await;
            return Err(e.into());
        }
    };
    let result = operation(&connection, &channel).await;
    close(channel, connection).await;
    result
}

/// Closes `channel`, then `connection`. Best effort and bounded: on a connection that is
/// already dead the close handshake may never be answered, and neither a reconnect loop nor a
/// shutdown may wait for it.
pub(crate) async fn close(channel: Channel, connection: Connection) {
    let handshake = async {
        let _ = channel.close().await;
        let _ = connection.close().await;
    };
    let _ = tokio::time::timeout(CLOSE_TIMEOUT, handshake).await;
}
