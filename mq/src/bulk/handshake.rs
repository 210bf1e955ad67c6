//! Opening a bulk consumer's connection: protocol header, PLAIN authentication, tuning, the
//! virtual host, one channel, `basic.qos` and `basic.consume` with manual acks.

use tokio::io::{AsyncWriteExt, WriteHalf};

use super::codec::{
    BASIC_CONSUME, BASIC_CONSUME_OK, BASIC_QOS, BASIC_QOS_OK, CHANNEL, CHANNEL_OPEN, CHANNEL_OPEN_OK, CONNECTION_OPEN,
    CONNECTION_OPEN_OK, CONNECTION_START, CONNECTION_START_OK, CONNECTION_TUNE, CONNECTION_TUNE_OK, FRAME_MAX, Reader,
    long_bytes, method, short_str,
};
use super::connection::{Inbound, Wire};
use crate::{AmqpUrl, Error};

/// What consuming `queue` needs: the queue, the prefetch, and the name shown in the management
/// UI (connection and consumer tag).
pub(super) struct Consume<'a> {
    pub(super) queue: &'a str,
    pub(super) prefetch: u16,
    pub(super) name: &'a str,
}

/// Runs the handshake on a fresh stream; returns the negotiated heartbeat interval in seconds
/// (0: none). On success the broker is delivering to channel [`CHANNEL`].
pub(super) async fn handshake(
    inbound: &mut Inbound,
    out: &mut WriteHalf<Box<dyn Wire>>,
    url: &AmqpUrl,
    consume: &Consume<'_>,
) -> Result<u16, Error> {
    out.write_all(b"AMQP\x00\x00\x09\x01").await?;
    let start = inbound.expect_method(0, CONNECTION_START).await?;
    let mechanisms = Reader::new(&start).skip(2).table().long_str()?;
    if !mechanisms.split(|&b| b == b' ').any(|m| m == b"PLAIN") {
        return Err(Error::Protocol("the broker does not offer PLAIN authentication".to_owned()));
    }
    let mut response = vec![0u8];
    response.extend_from_slice(url.username.as_bytes());
    response.push(0);
    response.extend_from_slice(url.password.as_bytes());
    let mut frames = Vec::new();
    method(&mut frames, 0, CONNECTION_START_OK, |p| {
        client_properties(p, consume.name);
        short_str(p, "PLAIN");
        long_bytes(p, &response);
        short_str(p, "en_US");
    });
    out.write_all(&frames).await?;

    let tune = inbound.expect_method(0, CONNECTION_TUNE).await?;
    let mut t = Reader::new(&tune);
    let (channel_max, frame_max, server_heartbeat) = (t.u16()?, t.u32()?, t.u16()?);
    let frame_max = if frame_max == 0 { FRAME_MAX } else { frame_max.min(FRAME_MAX) };
    // The usual negotiation: the lower of the two, unless one side wants none.
    let heartbeat = match (url.heartbeat, server_heartbeat) {
        (0, s) => s,
        (c, 0) => c,
        (c, s) => c.min(s),
    };
    frames.clear();
    method(&mut frames, 0, CONNECTION_TUNE_OK, |p| {
        p.extend_from_slice(&channel_max.to_be_bytes());
        p.extend_from_slice(&frame_max.to_be_bytes());
        p.extend_from_slice(&heartbeat.to_be_bytes());
    });
    method(&mut frames, 0, CONNECTION_OPEN, |p| {
        short_str(p, &url.vhost);
        short_str(p, "");
        p.push(0);
    });
    out.write_all(&frames).await?;
    inbound.expect_method(0, CONNECTION_OPEN_OK).await?;

    frames.clear();
    method(&mut frames, CHANNEL, CHANNEL_OPEN, |p| short_str(p, ""));
    out.write_all(&frames).await?;
    inbound.expect_method(CHANNEL, CHANNEL_OPEN_OK).await?;
    frames.clear();
    method(&mut frames, CHANNEL, BASIC_QOS, |p| {
        p.extend_from_slice(&0u32.to_be_bytes());
        p.extend_from_slice(&consume.prefetch.to_be_bytes());
        p.push(0);
    });
    out.write_all(&frames).await?;
    inbound.expect_method(CHANNEL, BASIC_QOS_OK).await?;
    frames.clear();
    method(&mut frames, CHANNEL, BASIC_CONSUME, |p| {
        p.extend_from_slice(&0u16.to_be_bytes());
        short_str(p, consume.queue);
        short_str(p, consume.name);
        p.push(0); // no-local, no-ack, exclusive, no-wait: all off (manual acks)
        p.extend_from_slice(&0u32.to_be_bytes()); // no arguments
    });
    out.write_all(&frames).await?;
    inbound.expect_method(CHANNEL, BASIC_CONSUME_OK).await?;
    Ok(heartbeat)
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
