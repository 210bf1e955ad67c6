//! Opening broker connections, and the backoff every reconnect loop shares.

use std::path::Path;
use std::time::Duration;

use amqprs::callbacks::DefaultConnectionCallback;
use amqprs::channel::Channel;
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::tls::TlsAdaptor;

use crate::{AmqpUrl, Error};

/// Longest wait for TCP connect + TLS + AMQP handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Opens one connection to the broker described by `url`, with heartbeats, TLS for `amqps`,
/// and `name` shown in the management UI.
pub async fn connect(url: &AmqpUrl, name: &str) -> Result<Connection, Error> {
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

/// Exponential backoff: `initial`, doubling, capped at `max`. `reset` after a success.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// A backoff starting at `initial` and never waiting longer than `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max, next: initial }
    }

    /// The delay to wait now; the following call returns twice as much (up to the cap).
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Starts again from the initial delay.
    pub fn reset(&mut self) {
        self.next = self.initial;
    }
}

impl Default for Backoff {
    /// 100 ms doubling to 10 s: quick first retry, gentle on a broker that is restarting.
    fn default() -> Self {
        Self::new(Duration::from_millis(100), Duration::from_secs(10))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let seen: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(seen, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
    }
}
