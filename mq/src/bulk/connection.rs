//! The bulk consumer's socket: TCP or TLS, split in two. The read half is filled into the
//! [`Decoder`] in the caller's task; the write half belongs to a small writer task, so a caller
//! dropping a `recv` future half-way (a `select!` branch losing) can never cut a frame in two.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use super::codec::{CHANNEL_CLOSE, CONNECTION_CLOSE, Decoder, FRAME_END, FRAME_HEARTBEAT, FRAME_METHOD, Reader};
use crate::connection::install_crypto_provider;
use crate::{AmqpUrl, Error};

/// A byte stream to the broker: plain TCP or TLS.
pub(super) trait Wire: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Wire for T {}

/// The stream to the first node of `url` that answers, TLS for `amqps`, and that node.
pub(super) async fn open_stream(url: &AmqpUrl) -> Result<(Box<dyn Wire>, &AmqpUrl), Error> {
    crate::connection::first_answering(url, |node| async move { Ok((open_node(node).await?, node)) }).await
}

async fn open_node(url: &AmqpUrl) -> Result<Box<dyn Wire>, Error> {
    let tcp = TcpStream::connect((url.host.as_str(), url.port)).await?;
    tcp.set_nodelay(true)?;
    Ok(if url.tls { Box::new(tls_connect(url, tcp).await?) } else { Box::new(tcp) })
}

/// The read side: the socket and the decoder its bytes go to.
pub(super) struct Inbound {
    reader: ReadHalf<Box<dyn Wire>>,
    pub(super) decoder: Decoder,
    /// The connection is silent this long -> considered dead (two missed heartbeats).
    pub(super) idle_limit: Option<Duration>,
}

impl Inbound {
    pub(super) fn new(reader: ReadHalf<Box<dyn Wire>>) -> Self {
        Self { reader, decoder: Decoder::new(), idle_limit: None }
    }

    /// Reads more bytes from the socket into the decoder (cancel-safe: a read either completes
    /// into the buffer or takes nothing).
    pub(super) async fn fill(&mut self) -> Result<(), Error> {
        let read = self.reader.read_buf(self.decoder.read_buffer());
        let n = match self.idle_limit {
            Some(limit) => tokio::time::timeout(limit, read).await.map_err(|_| Error::Timeout(limit))?,
            None => read.await,
        }?;
        if n == 0 {
            return Err(Error::ConnectionLost);
        }
        Ok(())
    }

    /// Reads until the method `id` arrives on `channel`, skipping anything else; returns its
    /// arguments. A close from the broker is an error naming its reason. For the handshake and
    /// the closing handshake, where no delivery is expected.
    pub(super) async fn expect_method(&mut self, channel: u16, id: (u16, u16)) -> Result<Vec<u8>, Error> {
        loop {
            while let Some(frame) = self.decoder.next_frame()? {
                if frame.kind != FRAME_METHOD {
                    continue;
                }
                let payload = self.decoder.payload(&frame);
                let mut r = Reader::new(payload);
                let got = (r.u16()?, r.u16()?);
                if got == id && frame.channel == channel {
                    return Ok(payload[4..].to_vec());
                }
                if got == CONNECTION_CLOSE || got == CHANNEL_CLOSE {
                    let code = r.u16().unwrap_or_default();
                    let text = r.short_str_value().unwrap_or_default();
                    return Err(Error::Protocol(format!("the broker refused: {code} {text}")));
                }
            }
            self.fill().await?;
        }
    }
}

/// What the writer task is asked to do.
pub(super) enum Command {
    /// Write these encoded frames.
    Frames(Vec<u8>),
    /// Write this (a close or close-ok), then stop.
    Last(Vec<u8>),
}

/// Starts the writer task on `out`; it sends a heartbeat every `heartbeat` when asked to.
pub(super) fn spawn_writer(
    out: WriteHalf<Box<dyn Wire>>,
    heartbeat: Option<Duration>,
) -> mpsc::UnboundedSender<Command> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(write_loop(out, rx, heartbeat));
    tx
}

async fn write_loop(
    mut out: WriteHalf<Box<dyn Wire>>,
    mut commands: mpsc::UnboundedReceiver<Command>,
    heartbeat: Option<Duration>,
) {
    let beat = [FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, FRAME_END];
    let mut ticker = tokio::time::interval(heartbeat.unwrap_or(Duration::from_secs(3600)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let (bytes, last) = tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Frames(bytes)) => (bytes, false),
                Some(Command::Last(bytes)) => (bytes, true),
                None => break,
            },
            _ = ticker.tick(), if heartbeat.is_some() => (beat.to_vec(), false),
        };
        if out.write_all(&bytes).await.is_err() || last {
            break;
        }
    }
    let _ = out.flush().await;
}

async fn tls_connect(url: &AmqpUrl, tcp: TcpStream) -> Result<tokio_rustls::client::TlsStream<TcpStream>, Error> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName};

    install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    match &url.ca_cert_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| Error::Tls(format!("{path}: {e}")))? {
                let cert = cert.map_err(|e| Error::Tls(format!("{path}: {e}")))?;
                roots.add(cert).map_err(|e| Error::Tls(format!("{path}: {e}")))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth();
    let domain = ServerName::try_from(url.host.clone()).map_err(|e| Error::Tls(e.to_string()))?;
    tokio_rustls::TlsConnector::from(Arc::new(config)).connect(domain, tcp).await.map_err(|e| Error::Tls(e.to_string()))
}
