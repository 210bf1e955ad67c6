//! A lean, high-throughput consumer of one queue: one connection, one channel, frames parsed
//! in place from one read buffer.
//!
//! [`crate::Subscription`] (amqprs) hands every delivery through three tasks (socket reader,
//! channel dispatcher, consumer queue), moving a large frame value at each hop. A
//! [`BulkConsumer`] reads the socket itself, in the caller's task: a delivery is three frames
//! parsed out of the read buffer and one copy of the body (docs/decisions/005-bulk-consumer.md). Only what a bulk consumer needs is implemented: the handshake, one
//! channel, `basic.qos`, `basic.consume`, deliveries (properties skipped), `basic.ack`,
//! `basic.reject`, heartbeats and closing. Declaring the queue is left to the general client
//! ([`BulkConsumer::declare_and_open`] runs [`crate::declare_topology`] first, once per
//! (re)connect).
//!
//! Writes (acks, rejects, heartbeats, close) go through a small writer task, so a caller
//! dropping a `recv` future half-way (a `select!` branch losing) can never cut a frame in two.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::connection::{CLOSE_TIMEOUT, CONNECT_TIMEOUT, install_crypto_provider};
use crate::{AmqpUrl, Error, QueueTopology, SubscriptionConfig};

/// One message as delivered: what a bulk consumer needs, nothing more.
#[derive(Debug)]
pub struct BulkDelivery {
    /// Delivery tag, valid on the channel that delivered it.
    pub tag: u64,
    /// The body.
    pub body: Vec<u8>,
    /// Set by the broker when this message was delivered before and not acked.
    pub redelivered: bool,
}

/// The channel every bulk consumer uses (channel 0 is the connection's).
const CHANNEL: u16 = 1;
/// Largest frame we accept; the broker's proposal is lowered to this.
const FRAME_MAX: u32 = 131_072;
/// Socket reads go into a buffer this large: one read takes hundreds of small deliveries.
const READ_BUFFER: usize = 256 * 1024;

const FRAME_METHOD: u8 = 1;
const FRAME_HEADER: u8 = 2;
const FRAME_BODY: u8 = 3;
const FRAME_HEARTBEAT: u8 = 8;
const FRAME_END: u8 = 0xCE;

// (class, method) ids of AMQP 0-9-1.
const CONNECTION_START: (u16, u16) = (10, 10);
const CONNECTION_START_OK: (u16, u16) = (10, 11);
const CONNECTION_TUNE: (u16, u16) = (10, 30);
const CONNECTION_TUNE_OK: (u16, u16) = (10, 31);
const CONNECTION_OPEN: (u16, u16) = (10, 40);
const CONNECTION_OPEN_OK: (u16, u16) = (10, 41);
const CONNECTION_CLOSE: (u16, u16) = (10, 50);
const CONNECTION_CLOSE_OK: (u16, u16) = (10, 51);
const CHANNEL_OPEN: (u16, u16) = (20, 10);
const CHANNEL_OPEN_OK: (u16, u16) = (20, 11);
const CHANNEL_FLOW: (u16, u16) = (20, 20);
const CHANNEL_FLOW_OK: (u16, u16) = (20, 21);
const CHANNEL_CLOSE: (u16, u16) = (20, 40);
const CHANNEL_CLOSE_OK: (u16, u16) = (20, 41);
const BASIC_QOS: (u16, u16) = (60, 10);
const BASIC_QOS_OK: (u16, u16) = (60, 11);
const BASIC_CONSUME: (u16, u16) = (60, 20);
const BASIC_CONSUME_OK: (u16, u16) = (60, 21);
const BASIC_CANCEL: (u16, u16) = (60, 30);
const BASIC_DELIVER: (u16, u16) = (60, 60);
const BASIC_ACK: (u16, u16) = (60, 80);
const BASIC_REJECT: (u16, u16) = (60, 90);

/// A byte stream to the broker: plain TCP or TLS.
trait Wire: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Wire for T {}

/// What the writer task is asked to do.
enum Command {
    /// Write these encoded frames.
    Frames(Vec<u8>),
    /// Write this (a connection.close), then stop.
    Last(Vec<u8>),
}

/// A delivery whose content frames are still arriving.
struct Partial {
    tag: u64,
    redelivered: bool,
    /// `None` until the content header told the body size.
    size: Option<usize>,
    body: Vec<u8>,
}

/// A consuming connection: see the module documentation.
pub struct BulkConsumer {
    reader: ReadHalf<Box<dyn Wire>>,
    buffer: Vec<u8>,
    /// Start of the unparsed bytes in `buffer`.
    parsed: usize,
    partial: Option<Partial>,
    writer: mpsc::UnboundedSender<Command>,
    /// The connection is silent this long -> considered dead (two missed heartbeats).
    idle_limit: Option<Duration>,
    open: bool,
}

/// A frame as parsed: its type, channel and payload range in the read buffer.
struct Frame {
    kind: u8,
    channel: u16,
    start: usize,
    end: usize,
}

impl BulkConsumer {
    /// Declares `topology` through the general client (idempotent: a broker restarted empty is
    /// rebuilt), then consumes its queue: what every (re)connect of a bulk consumer does.
    pub async fn declare_and_open(
        url: &AmqpUrl,
        topology: &QueueTopology,
        prefetch: u16,
        name: &str,
    ) -> Result<Self, Error> {
        let declare =
            SubscriptionConfig { topology: topology.clone(), bindings: None, prefetch, name: name.to_owned() };
        crate::declare_topology(url, &declare).await?;
        Self::open(url, &topology.queue, prefetch, name).await
    }

    /// Connects (TLS for `amqps`), opens a channel, sets the prefetch and starts consuming
    /// `queue` with manual acks. The queue must exist.
    pub async fn open(url: &AmqpUrl, queue: &str, prefetch: u16, name: &str) -> Result<Self, Error> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::handshake(url, queue, prefetch, name))
            .await
            .map_err(|_| Error::Timeout(CONNECT_TIMEOUT))?
    }

    async fn handshake(url: &AmqpUrl, queue: &str, prefetch: u16, name: &str) -> Result<Self, Error> {
        let tcp = TcpStream::connect((url.host.as_str(), url.port)).await.map_err(io_error)?;
        tcp.set_nodelay(true).map_err(io_error)?;
        let stream: Box<dyn Wire> = if url.tls { Box::new(tls_connect(url, tcp).await?) } else { Box::new(tcp) };
        let (reader, mut write_half) = tokio::io::split(stream);
        let mut consumer = Self {
            reader,
            buffer: Vec::with_capacity(READ_BUFFER),
            parsed: 0,
            partial: None,
            writer: mpsc::unbounded_channel().0,
            idle_limit: None,
            open: true,
        };

        write_half.write_all(b"AMQP\x00\x00\x09\x01").await.map_err(io_error)?;
        let start = consumer.expect_method(0, CONNECTION_START).await?;
        let mechanisms = Reader::new(&start).skip(2).table().long_str()?;
        if !mechanisms.split(|&b| b == b' ').any(|m| m == b"PLAIN") {
            return Err(Error::Protocol("the broker does not offer PLAIN authentication".to_owned()));
        }
        let mut response = vec![0u8];
        response.extend_from_slice(url.username.as_bytes());
        response.push(0);
        response.extend_from_slice(url.password.as_bytes());
        let mut out = Vec::new();
        method(&mut out, 0, CONNECTION_START_OK, |p| {
            client_properties(p, name);
            short_str(p, "PLAIN");
            long_bytes(p, &response);
            short_str(p, "en_US");
        });
        write_half.write_all(&out).await.map_err(io_error)?;

        let tune = consumer.expect_method(0, CONNECTION_TUNE).await?;
        let mut t = Reader::new(&tune);
        let (channel_max, frame_max, server_heartbeat) = (t.u16()?, t.u32()?, t.u16()?);
        let frame_max = if frame_max == 0 { FRAME_MAX } else { frame_max.min(FRAME_MAX) };
        // The usual negotiation: the lower of the two, unless one side wants none.
        let heartbeat = match (url.heartbeat, server_heartbeat) {
            (0, s) => s,
            (c, 0) => c,
            (c, s) => c.min(s),
        };
        out.clear();
        method(&mut out, 0, CONNECTION_TUNE_OK, |p| {
            p.extend_from_slice(&channel_max.to_be_bytes());
            p.extend_from_slice(&frame_max.to_be_bytes());
            p.extend_from_slice(&heartbeat.to_be_bytes());
        });
        method(&mut out, 0, CONNECTION_OPEN, |p| {
            short_str(p, &url.vhost);
            short_str(p, "");
            p.push(0);
        });
        write_half.write_all(&out).await.map_err(io_error)?;
        consumer.expect_method(0, CONNECTION_OPEN_OK).await?;

        out.clear();
        method(&mut out, CHANNEL, CHANNEL_OPEN, |p| short_str(p, ""));
        write_half.write_all(&out).await.map_err(io_error)?;
        consumer.expect_method(CHANNEL, CHANNEL_OPEN_OK).await?;
        out.clear();
        method(&mut out, CHANNEL, BASIC_QOS, |p| {
            p.extend_from_slice(&0u32.to_be_bytes());
            p.extend_from_slice(&prefetch.to_be_bytes());
            p.push(0);
        });
        write_half.write_all(&out).await.map_err(io_error)?;
        consumer.expect_method(CHANNEL, BASIC_QOS_OK).await?;
        out.clear();
        method(&mut out, CHANNEL, BASIC_CONSUME, |p| {
            p.extend_from_slice(&0u16.to_be_bytes());
            short_str(p, queue);
            short_str(p, name);
            p.push(0); // no-local, no-ack, exclusive, no-wait: all off (manual acks)
            p.extend_from_slice(&0u32.to_be_bytes()); // no arguments
        });
        write_half.write_all(&out).await.map_err(io_error)?;
        consumer.expect_method(CHANNEL, BASIC_CONSUME_OK).await?;

        let interval = (heartbeat > 0).then(|| Duration::from_secs(u64::from(heartbeat)));
        consumer.idle_limit = interval.map(|i| i * 2);
        let (tx, rx) = mpsc::unbounded_channel();
        consumer.writer = tx;
        tokio::spawn(write_loop(write_half, rx, interval.map(|i| i / 2)));
        Ok(consumer)
    }

    /// The next delivery; `None` once the connection or channel is gone (closed by the broker,
    /// broken, or silent for two heartbeat intervals). Cancel-safe.
    pub async fn recv(&mut self) -> Option<BulkDelivery> {
        loop {
            if let Some(delivery) = self.try_recv() {
                return Some(delivery);
            }
            if !self.open {
                return None;
            }
            if let Err(e) = self.fill().await {
                tracing::warn!(error = %e, "consumer connection lost");
                self.open = false;
                return None;
            }
        }
    }

    /// A delivery already read from the socket, without waiting.
    pub fn try_recv(&mut self) -> Option<BulkDelivery> {
        if !self.open {
            return None;
        }
        match self.next_buffered() {
            Ok(delivery) => delivery,
            Err(e) => {
                // A broker breaking the protocol: nothing after this can be trusted.
                tracing::warn!(error = %e, "consumer connection unusable");
                self.open = false;
                None
            }
        }
    }

    /// Acks `tag`, and with `multiple` every earlier unacked tag too.
    pub fn ack(&self, tag: u64, multiple: bool) -> Result<(), Error> {
        self.send(BASIC_ACK, tag, multiple)
    }

    /// Rejects one delivery; without requeue it goes to the queue's dead-letter exchange.
    pub fn reject(&self, tag: u64, requeue: bool) -> Result<(), Error> {
        self.send(BASIC_REJECT, tag, requeue)
    }

    /// `true` until the connection is known to be gone.
    pub fn is_open(&self) -> bool {
        self.open && !self.writer.is_closed()
    }

    /// Closes the connection, waiting at most 2 s for the broker's answer; unacked deliveries
    /// go back to the queue.
    pub async fn close(mut self) {
        if !self.is_open() {
            return;
        }
        let mut out = Vec::new();
        method(&mut out, 0, CONNECTION_CLOSE, |p| {
            p.extend_from_slice(&200u16.to_be_bytes());
            short_str(p, "closing");
            p.extend_from_slice(&[0, 0, 0, 0]);
        });
        if self.writer.send(Command::Last(out)).is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.expect_method(0, CONNECTION_CLOSE_OK)).await;
    }

    fn send(&self, id: (u16, u16), tag: u64, flag: bool) -> Result<(), Error> {
        let mut out = Vec::with_capacity(24);
        method(&mut out, CHANNEL, id, |p| {
            p.extend_from_slice(&tag.to_be_bytes());
            p.push(u8::from(flag));
        });
        self.writer.send(Command::Frames(out)).map_err(|_| Error::ConnectionLost)
    }

    /// Reads more bytes from the socket into the buffer (cancel-safe: a read either completes
    /// into the buffer or takes nothing).
    async fn fill(&mut self) -> Result<(), Error> {
        if self.parsed > 0 {
            // Keep only the unparsed tail (at most one partial frame), at the front.
            self.buffer.drain(..self.parsed);
            self.parsed = 0;
        }
        if self.buffer.capacity() - self.buffer.len() < 4096 {
            self.buffer.reserve(READ_BUFFER);
        }
        let read = self.reader.read_buf(&mut self.buffer);
        let n = match self.idle_limit {
            Some(limit) => tokio::time::timeout(limit, read)
                .await
                .map_err(|_| Error::Protocol("no frame from the broker for two heartbeat intervals".to_owned()))?,
            None => read.await,
        }
        .map_err(io_error)?;
        if n == 0 {
            return Err(Error::ConnectionLost);
        }
        Ok(())
    }

    /// The next complete frame in the buffer, if any.
    fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        let unparsed = &self.buffer[self.parsed..];
        if unparsed.len() < 7 {
            return Ok(None);
        }
        let size = u32::from_be_bytes([unparsed[3], unparsed[4], unparsed[5], unparsed[6]]) as usize;
        if size > FRAME_MAX as usize {
            return Err(Error::Protocol(format!("frame of {size} bytes exceeds the negotiated maximum")));
        }
        if unparsed.len() < 8 + size {
            return Ok(None);
        }
        if unparsed[7 + size] != FRAME_END {
            return Err(Error::Protocol("frame without its end marker".to_owned()));
        }
        let start = self.parsed + 7;
        let frame = Frame {
            kind: unparsed[0],
            channel: u16::from_be_bytes([unparsed[1], unparsed[2]]),
            start,
            end: start + size,
        };
        self.parsed += 8 + size;
        Ok(Some(frame))
    }

    /// Parses buffered frames until a delivery is complete or the buffer runs out.
    fn next_buffered(&mut self) -> Result<Option<BulkDelivery>, Error> {
        while let Some(frame) = self.next_frame()? {
            if let Some(delivery) = self.on_frame(frame)? {
                return Ok(Some(delivery));
            }
            if !self.open {
                break;
            }
        }
        Ok(None)
    }

    fn on_frame(&mut self, frame: Frame) -> Result<Option<BulkDelivery>, Error> {
        let payload = &self.buffer[frame.start..frame.end];
        match frame.kind {
            FRAME_HEARTBEAT => Ok(None),
            FRAME_METHOD => {
                let mut r = Reader::new(payload);
                let id = (r.u16()?, r.u16()?);
                if id == BASIC_DELIVER {
                    let tag = r.short_str().and_then(|r| r.u64())?;
                    let redelivered = r.u8()? & 1 == 1;
                    self.partial = Some(Partial { tag, redelivered, size: None, body: Vec::new() });
                    return Ok(None);
                }
                self.on_control(frame.channel, id, payload[4..].to_vec());
                Ok(None)
            }
            FRAME_HEADER => {
                let partial = self.partial.as_mut().ok_or_else(|| unexpected("content header"))?;
                let size = Reader::new(payload).skip(4).u64()? as usize;
                partial.size = Some(size);
                // The size comes from the wire: reserve for it only up to a frame's worth.
                partial.body.reserve_exact(size.min(FRAME_MAX as usize));
                Ok(self.complete())
            }
            FRAME_BODY => {
                let partial = self.partial.as_mut().ok_or_else(|| unexpected("content body"))?;
                partial.body.extend_from_slice(payload);
                Ok(self.complete())
            }
            other => Err(Error::Protocol(format!("unknown frame type {other}"))),
        }
    }

    /// The partial delivery, if its body is all there.
    fn complete(&mut self) -> Option<BulkDelivery> {
        let done = self.partial.as_ref().is_some_and(|p| p.size.is_some_and(|size| p.body.len() >= size));
        if !done {
            return None;
        }
        let p = self.partial.take()?;
        Some(BulkDelivery { tag: p.tag, body: p.body, redelivered: p.redelivered })
    }

    /// Methods other than deliveries: the broker closing things, flow control.
    fn on_control(&mut self, channel: u16, id: (u16, u16), args: Vec<u8>) {
        let reply = |id| {
            let mut out = Vec::new();
            method(&mut out, channel, id, |_| {});
            out
        };
        match id {
            CONNECTION_CLOSE | CHANNEL_CLOSE => {
                let mut r = Reader::new(&args);
                let code = r.u16().unwrap_or_default();
                let text = r.short_str_value().unwrap_or_default();
                tracing::warn!(code, reason = %text, "the broker closed the consumer's {}", if id == CHANNEL_CLOSE { "channel" } else { "connection" });
                let ok = if id == CHANNEL_CLOSE { CHANNEL_CLOSE_OK } else { CONNECTION_CLOSE_OK };
                let _ = self.writer.send(Command::Last(reply(ok)));
                self.open = false;
            }
            CONNECTION_CLOSE_OK => self.open = false,
            BASIC_CANCEL => {
                tracing::warn!("the broker cancelled the consumer (queue deleted?)");
                self.open = false;
            }
            CHANNEL_FLOW => {
                let mut out = Vec::new();
                method(&mut out, channel, CHANNEL_FLOW_OK, |p| p.push(args.first().copied().unwrap_or(1)));
                let _ = self.writer.send(Command::Frames(out));
            }
            // connection.blocked / unblocked and the like only concern publishers.
            _ => {}
        }
    }

    /// During the handshake: reads until the method `id` arrives on `channel`; returns its
    /// arguments. A close from the broker is an error naming its reason.
    async fn expect_method(&mut self, channel: u16, id: (u16, u16)) -> Result<Vec<u8>, Error> {
        loop {
            while let Some(frame) = self.next_frame()? {
                if frame.kind != FRAME_METHOD {
                    continue;
                }
                let payload = &self.buffer[frame.start..frame.end];
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

/// Writes what the consumer asks for, and a heartbeat every `heartbeat` when asked to.
async fn write_loop(
    mut out: tokio::io::WriteHalf<Box<dyn Wire>>,
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

fn io_error(e: std::io::Error) -> Error {
    Error::Protocol(format!("I/O: {e}"))
}

fn unexpected(what: &str) -> Error {
    Error::Protocol(format!("{what} frame outside a delivery"))
}

/// Appends one method frame on `channel`; `args` writes the arguments.
fn method(out: &mut Vec<u8>, channel: u16, (class, method): (u16, u16), args: impl FnOnce(&mut Vec<u8>)) {
    out.push(FRAME_METHOD);
    out.extend_from_slice(&channel.to_be_bytes());
    let size_at = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&class.to_be_bytes());
    out.extend_from_slice(&method.to_be_bytes());
    args(out);
    let size = (out.len() - size_at - 4) as u32;
    out[size_at..size_at + 4].copy_from_slice(&size.to_be_bytes());
    out.push(FRAME_END);
}

fn short_str(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

fn long_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

/// The client-properties table of connection.start-ok: the name shown in the management UI,
/// and the capabilities this consumer handles.
fn client_properties(out: &mut Vec<u8>, name: &str) {
    let mut table = Vec::new();
    let mut entry = |key: &str, kind: u8, value: &[u8]| {
        short_str(&mut table, key);
        table.push(kind);
        table.extend_from_slice(value);
    };
    let long = |s: &str| {
        let mut v = Vec::new();
        long_bytes(&mut v, s.as_bytes());
        v
    };
    entry("connection_name", b'S', &long(name));
    entry("product", b'S', &long("vote-mq bulk consumer"));
    let mut capabilities = Vec::new();
    for key in ["consumer_cancel_notify", "connection.blocked"] {
        short_str(&mut capabilities, key);
        capabilities.extend_from_slice(b"t\x01");
    }
    let mut nested = Vec::new();
    long_bytes(&mut nested, &capabilities);
    entry("capabilities", b'F', &nested);
    long_bytes(out, &table);
}

/// Reads AMQP fields from a method's arguments.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0, failed: false }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.failed || self.at + n > self.bytes.len() {
            self.failed = true;
            return Err(Error::Protocol("truncated method frame".to_owned()));
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    /// Skips `n` bytes (errors surface at the next read).
    fn skip(mut self, n: usize) -> Self {
        let _ = self.take(n);
        self
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, Error> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(b.try_into().unwrap_or_default()))
    }

    /// Skips a short string.
    fn short_str(&mut self) -> Result<&mut Self, Error> {
        let n = self.u8()? as usize;
        self.take(n)?;
        Ok(self)
    }

    fn short_str_value(&mut self) -> Result<String, Error> {
        let n = self.u8()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// Skips a field table.
    fn table(mut self) -> Self {
        if let Ok(n) = self.u32() {
            let _ = self.take(n as usize);
        }
        self
    }

    fn long_str(mut self) -> Result<&'a [u8], Error> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_frames_carry_their_size_and_end_marker() {
        let mut out = Vec::new();
        method(&mut out, 1, BASIC_ACK, |p| {
            p.extend_from_slice(&7u64.to_be_bytes());
            p.push(1);
        });
        assert_eq!(out[0], FRAME_METHOD);
        assert_eq!(u16::from_be_bytes([out[1], out[2]]), 1);
        assert_eq!(u32::from_be_bytes([out[3], out[4], out[5], out[6]]), 4 + 9);
        assert_eq!(&out[7..11], &[0, 60, 0, 80]);
        assert_eq!(*out.last().unwrap(), FRAME_END);
        assert_eq!(out.len(), 8 + 13);
    }

    /// A consumer whose socket is never read: the tests put bytes in its buffer by hand.
    fn parser() -> BulkConsumer {
        let (stream, _peer) = tokio::io::duplex(64);
        let (reader, _writer) = tokio::io::split(Box::new(stream) as Box<dyn Wire>);
        BulkConsumer {
            reader,
            buffer: Vec::new(),
            parsed: 0,
            partial: None,
            writer: mpsc::unbounded_channel().0,
            idle_limit: None,
            open: true,
        }
    }

    fn frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
        out.push(kind);
        out.extend_from_slice(&CHANNEL.to_be_bytes());
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(payload);
        out.push(FRAME_END);
    }

    fn delivery(out: &mut Vec<u8>, tag: u64, body: &[&[u8]]) {
        method(out, CHANNEL, BASIC_DELIVER, |p| {
            short_str(p, "ctag");
            p.extend_from_slice(&tag.to_be_bytes());
            p.push(1);
            short_str(p, "");
            short_str(p, "votes");
        });
        let size: usize = body.iter().map(|b| b.len()).sum();
        let mut header = vec![0, 60, 0, 0];
        header.extend_from_slice(&(size as u64).to_be_bytes());
        header.extend_from_slice(&[0x10, 0, 2]); // property flags: delivery-mode, persistent
        frame(out, FRAME_HEADER, &header);
        for part in body {
            frame(out, FRAME_BODY, part);
        }
    }

    #[tokio::test]
    async fn deliveries_are_assembled_from_frames_split_anywhere() {
        let mut bytes = Vec::new();
        delivery(&mut bytes, 7, &[b"hello ", b"world"]);
        frame(&mut bytes, FRAME_HEARTBEAT, &[]);
        delivery(&mut bytes, 8, &[]);
        let mut c = parser();
        // Fed a byte at a time, as a slow socket would: nothing until a delivery is whole.
        let mut got = Vec::new();
        for b in bytes {
            c.buffer.push(b);
            while let Some(d) = c.try_recv() {
                got.push((d.tag, d.body, d.redelivered));
            }
        }
        assert_eq!(got, [(7, b"hello world".to_vec(), true), (8, Vec::new(), true)]);
        assert!(c.open);
    }

    #[tokio::test]
    async fn a_broken_frame_ends_the_connection() {
        let mut bytes = Vec::new();
        delivery(&mut bytes, 1, &[b"ok"]);
        let mut broken = Vec::new();
        delivery(&mut broken, 2, &[b"lost"]);
        *broken.last_mut().unwrap() = 0; // no end marker
        bytes.extend_from_slice(&broken);
        let mut c = parser();
        c.buffer = bytes;
        assert_eq!(c.try_recv().map(|d| d.tag), Some(1));
        assert!(c.try_recv().is_none());
        assert!(!c.open, "nothing after a protocol violation can be trusted");
        assert!(c.recv().await.is_none(), "recv does not wait on a connection known to be unusable");
    }

    #[test]
    fn a_truncated_method_is_an_error_not_a_panic() {
        let mut r = Reader::new(&[0, 60, 0]);
        assert!(r.u16().is_ok());
        assert!(r.u16().is_err());
        assert!(r.u8().is_err(), "a failed reader stays failed");
    }
}
