//! AMQP 0-9-1 frames as the bulk consumer sees them: a [`Decoder`] splits the bytes read from
//! the socket into frames, assembles deliveries (deliver method, content header, body frames)
//! and names the few control methods the consumer reacts to; [`method`] and the field writers
//! encode what it sends. No I/O here, so every way a stream can be split or broken is tested
//! without a broker.
//!
//! The decoder is strict: a frame on a channel this connection never opened, content outside a
//! delivery, a body longer than its header announced or a delivery starting inside another one
//! is a protocol error, after which nothing on the connection can be trusted.

use crate::Error;
use crate::bulk::BulkDelivery;

/// The channel every bulk consumer uses (channel 0 is the connection's).
pub(super) const CHANNEL: u16 = 1;
/// Largest frame we accept; the broker's proposal is lowered to this.
pub(super) const FRAME_MAX: u32 = 131_072;
/// Socket reads go into a buffer this large: one read takes hundreds of small deliveries.
const READ_BUFFER: usize = 256 * 1024;

pub(super) const FRAME_METHOD: u8 = 1;
pub(super) const FRAME_HEADER: u8 = 2;
pub(super) const FRAME_BODY: u8 = 3;
pub(super) const FRAME_HEARTBEAT: u8 = 8;
pub(super) const FRAME_END: u8 = 0xCE;
/// Frame type, channel and payload size come before the payload; the end marker after it.
const FRAME_HEAD: usize = 7;

/// The connection class: its methods travel on channel 0, every other class's on a channel.
const CLASS_CONNECTION: u16 = 10;

// (class, method) ids of AMQP 0-9-1.
pub(super) const CONNECTION_START: (u16, u16) = (10, 10);
pub(super) const CONNECTION_START_OK: (u16, u16) = (10, 11);
pub(super) const CONNECTION_TUNE: (u16, u16) = (10, 30);
pub(super) const CONNECTION_TUNE_OK: (u16, u16) = (10, 31);
pub(super) const CONNECTION_OPEN: (u16, u16) = (10, 40);
pub(super) const CONNECTION_OPEN_OK: (u16, u16) = (10, 41);
pub(super) const CONNECTION_CLOSE: (u16, u16) = (10, 50);
pub(super) const CONNECTION_CLOSE_OK: (u16, u16) = (10, 51);
pub(super) const CONNECTION_BLOCKED: (u16, u16) = (10, 60);
pub(super) const CONNECTION_UNBLOCKED: (u16, u16) = (10, 61);
pub(super) const CHANNEL_OPEN: (u16, u16) = (20, 10);
pub(super) const CHANNEL_OPEN_OK: (u16, u16) = (20, 11);
pub(super) const CHANNEL_FLOW: (u16, u16) = (20, 20);
pub(super) const CHANNEL_FLOW_OK: (u16, u16) = (20, 21);
pub(super) const CHANNEL_CLOSE: (u16, u16) = (20, 40);
pub(super) const CHANNEL_CLOSE_OK: (u16, u16) = (20, 41);
pub(super) const BASIC_QOS: (u16, u16) = (60, 10);
pub(super) const BASIC_QOS_OK: (u16, u16) = (60, 11);
pub(super) const BASIC_CONSUME: (u16, u16) = (60, 20);
pub(super) const BASIC_CONSUME_OK: (u16, u16) = (60, 21);
pub(super) const BASIC_CANCEL: (u16, u16) = (60, 30);
pub(super) const BASIC_DELIVER: (u16, u16) = (60, 60);
pub(super) const BASIC_ACK: (u16, u16) = (60, 80);
pub(super) const BASIC_REJECT: (u16, u16) = (60, 90);

/// A frame as parsed: its type, channel and payload range in the decoder's buffer.
pub(super) struct Frame {
    pub(super) kind: u8,
    pub(super) channel: u16,
    start: usize,
    end: usize,
}

/// What the broker said, other than deliveries, that the consumer must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Control {
    /// The broker closes the connection (answer close-ok, stop).
    ConnectionClose { code: u16, text: String },
    /// The broker closes the consumer's channel (answer close-ok, stop).
    ChannelClose { code: u16, text: String },
    /// The broker answered our connection.close.
    ConnectionCloseOk,
    /// The broker cancelled the consumer (its queue was deleted).
    Cancel,
    /// channel.flow: the broker asks to pause (`false`) or resume deliveries.
    Flow { active: bool },
    /// A resource alarm (memory, disk) blocks publishing on this connection.
    Blocked { reason: String },
    /// The alarm has cleared.
    Unblocked,
    /// Any other method: nothing to do.
    Ignored,
}

/// What the decoder found next in the stream.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Event {
    /// A complete delivery.
    Delivery(BulkDelivery),
    /// A control method.
    Control(Control),
}

/// A delivery whose content frames are still arriving.
struct Partial {
    tag: u64,
    redelivered: bool,
    /// `None` until the content header told the body size.
    size: Option<usize>,
    body: Vec<u8>,
}

/// Splits a byte stream into frames and frames into deliveries: see the module documentation.
pub(super) struct Decoder {
    buffer: Vec<u8>,
    /// Start of the unparsed bytes in `buffer`.
    parsed: usize,
    partial: Option<Partial>,
}

impl Decoder {
    /// An empty decoder with a full-size read buffer.
    pub(super) fn new() -> Self {
        Self { buffer: Vec::with_capacity(READ_BUFFER), parsed: 0, partial: None }
    }

    /// The buffer to read more bytes into (append only), with the parsed bytes dropped and room
    /// for a large read.
    pub(super) fn read_buffer(&mut self) -> &mut Vec<u8> {
        if self.parsed > 0 {
            // Keep only the unparsed tail (at most one partial frame), at the front.
            self.buffer.drain(..self.parsed);
            self.parsed = 0;
        }
        if self.buffer.capacity() - self.buffer.len() < 4096 {
            self.buffer.reserve(READ_BUFFER);
        }
        &mut self.buffer
    }

    /// The next complete frame in the buffer, if any.
    pub(super) fn next_frame(&mut self) -> Result<Option<Frame>, Error> {
        let unparsed = &self.buffer[self.parsed..];
        if unparsed.len() < FRAME_HEAD {
            return Ok(None);
        }
        let channel = u16::from_be_bytes([unparsed[1], unparsed[2]]);
        if channel != 0 && channel != CHANNEL {
            return Err(Error::Protocol(format!("frame on channel {channel}, which this connection never opened")));
        }
        let size = u32::from_be_bytes([unparsed[3], unparsed[4], unparsed[5], unparsed[6]]) as usize;
        // The negotiated maximum counts the whole frame: head, payload and end marker.
        if FRAME_HEAD + size + 1 > FRAME_MAX as usize {
            return Err(Error::Protocol(format!("frame of {size} bytes exceeds the negotiated maximum")));
        }
        if unparsed.len() < FRAME_HEAD + size + 1 {
            return Ok(None);
        }
        if unparsed[FRAME_HEAD + size] != FRAME_END {
            return Err(Error::Protocol("frame without its end marker".to_owned()));
        }
        let start = self.parsed + FRAME_HEAD;
        let frame = Frame { kind: unparsed[0], channel, start, end: start + size };
        self.parsed += FRAME_HEAD + size + 1;
        Ok(Some(frame))
    }

    /// The payload of a frame just returned by [`Decoder::next_frame`].
    pub(super) fn payload(&self, frame: &Frame) -> &[u8] {
        &self.buffer[frame.start..frame.end]
    }

    /// Parses buffered frames until a delivery is complete, a control method arrives, or the
    /// buffer runs out (`None`: read more).
    pub(super) fn next_event(&mut self) -> Result<Option<Event>, Error> {
        while let Some(frame) = self.next_frame()? {
            if let Some(event) = self.on_frame(&frame)? {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    fn on_frame(&mut self, frame: &Frame) -> Result<Option<Event>, Error> {
        let payload = &self.buffer[frame.start..frame.end];
        match frame.kind {
            FRAME_HEARTBEAT if frame.channel == 0 => Ok(None),
            FRAME_METHOD => {
                let mut r = Reader::new(payload);
                let id = (r.u16()?, r.u16()?);
                if (id.0 == CLASS_CONNECTION) != (frame.channel == 0) {
                    return Err(Error::Protocol(format!("method {id:?} on channel {}", frame.channel)));
                }
                if id != BASIC_DELIVER {
                    return Ok(Some(Event::Control(control(id, r)?)));
                }
                if self.partial.is_some() {
                    return Err(unexpected("a delivery"));
                }
                let tag = r.short_str().and_then(|r| r.u64())?;
                let redelivered = r.u8()? & 1 == 1;
                self.partial = Some(Partial { tag, redelivered, size: None, body: Vec::new() });
                Ok(None)
            }
            FRAME_HEADER if frame.channel == CHANNEL => {
                let partial = match self.partial.as_mut() {
                    Some(p) if p.size.is_none() => p,
                    _ => return Err(unexpected("a content header")),
                };
                let size = Reader::new(payload).skip(4).u64()? as usize;
                partial.size = Some(size);
                // The size comes from the wire: reserve for it only up to a frame's worth.
                partial.body.reserve_exact(size.min(FRAME_MAX as usize));
                Ok(self.complete())
            }
            FRAME_BODY if frame.channel == CHANNEL => {
                let partial = match self.partial.as_mut() {
                    Some(p) if p.size.is_some_and(|size| p.body.len() + payload.len() <= size) => p,
                    _ => return Err(unexpected("a body")),
                };
                partial.body.extend_from_slice(payload);
                Ok(self.complete())
            }
            kind => Err(Error::Protocol(format!("frame of type {kind} on channel {}", frame.channel))),
        }
    }

    /// The partial delivery, if its body is all there.
    fn complete(&mut self) -> Option<Event> {
        let done = self.partial.as_ref().is_some_and(|p| p.size == Some(p.body.len()));
        if !done {
            return None;
        }
        let p = self.partial.take()?;
        Some(Event::Delivery(BulkDelivery { tag: p.tag, body: p.body, redelivered: p.redelivered }))
    }
}

/// Names a control method from its id and arguments.
fn control(id: (u16, u16), mut args: Reader<'_>) -> Result<Control, Error> {
    Ok(match id {
        CONNECTION_CLOSE => Control::ConnectionClose { code: args.u16()?, text: args.short_str_value()? },
        CHANNEL_CLOSE => Control::ChannelClose { code: args.u16()?, text: args.short_str_value()? },
        CONNECTION_CLOSE_OK => Control::ConnectionCloseOk,
        BASIC_CANCEL => Control::Cancel,
        CHANNEL_FLOW => Control::Flow { active: args.u8()? & 1 == 1 },
        CONNECTION_BLOCKED => Control::Blocked { reason: args.short_str_value()? },
        CONNECTION_UNBLOCKED => Control::Unblocked,
        _ => Control::Ignored,
    })
}

fn unexpected(what: &str) -> Error {
    Error::Protocol(format!("{what} frame where the delivery in progress does not allow one"))
}

/// Appends one method frame on `channel`; `args` writes the arguments.
pub(super) fn method(out: &mut Vec<u8>, channel: u16, (class, method): (u16, u16), args: impl FnOnce(&mut Vec<u8>)) {
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

/// Appends a short string (cut to 255 bytes).
pub(super) fn short_str(out: &mut Vec<u8>, s: &str) {
    let bytes = &s.as_bytes()[..s.len().min(255)];
    out.push(bytes.len() as u8);
    out.extend_from_slice(bytes);
}

/// Appends a long string.
pub(super) fn long_bytes(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u32).to_be_bytes());
    out.extend_from_slice(b);
}

/// Reads AMQP fields from a method's arguments.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    failed: bool,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0, failed: false }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.failed || self.bytes.len() - self.at < n {
            self.failed = true;
            return Err(Error::Protocol("truncated method frame".to_owned()));
        }
        let slice = &self.bytes[self.at..self.at + n];
        self.at += n;
        Ok(slice)
    }

    /// Skips `n` bytes (errors surface at the next read).
    pub(super) fn skip(mut self, n: usize) -> Self {
        let _ = self.take(n);
        self
    }

    pub(super) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    pub(super) fn u16(&mut self) -> Result<u16, Error> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(super) fn u32(&mut self) -> Result<u32, Error> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(super) fn u64(&mut self) -> Result<u64, Error> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(b.try_into().unwrap_or_default()))
    }

    /// Skips a short string.
    pub(super) fn short_str(&mut self) -> Result<&mut Self, Error> {
        let n = self.u8()? as usize;
        self.take(n)?;
        Ok(self)
    }

    pub(super) fn short_str_value(&mut self) -> Result<String, Error> {
        let n = self.u8()? as usize;
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// Skips a field table.
    pub(super) fn table(mut self) -> Self {
        if let Ok(n) = self.u32() {
            let _ = self.take(n as usize);
        }
        self
    }

    pub(super) fn long_str(mut self) -> Result<&'a [u8], Error> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
pub(super) mod tests;
