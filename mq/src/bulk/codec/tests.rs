//! The frame codec's tests, and the crafted frames the consumer's tests share.

use proptest::prelude::*;

use super::*;

/// Appends one frame.
pub(in crate::bulk) fn frame(out: &mut Vec<u8>, kind: u8, channel: u16, payload: &[u8]) {
    out.push(kind);
    out.extend_from_slice(&channel.to_be_bytes());
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out.push(FRAME_END);
}

/// A basic.deliver, its content header and one body frame per part (empty parts left out, as
/// a broker sends no empty body frame).
pub(in crate::bulk) fn delivery(out: &mut Vec<u8>, tag: u64, redelivered: bool, body: &[&[u8]]) {
    method(out, CHANNEL, BASIC_DELIVER, |p| {
        short_str(p, "ctag");
        p.extend_from_slice(&tag.to_be_bytes());
        p.push(u8::from(redelivered));
        short_str(p, "");
        short_str(p, "votes");
    });
    let size: usize = body.iter().map(|b| b.len()).sum();
    let mut header = vec![0, 60, 0, 0];
    header.extend_from_slice(&(size as u64).to_be_bytes());
    header.extend_from_slice(&[0x10, 0, 2]); // property flags: delivery-mode, persistent
    frame(out, FRAME_HEADER, CHANNEL, &header);
    for part in body.iter().filter(|part| !part.is_empty()) {
        frame(out, FRAME_BODY, CHANNEL, part);
    }
}

fn blocked(out: &mut Vec<u8>, reason: &str) {
    method(out, 0, CONNECTION_BLOCKED, |p| short_str(p, reason));
}

/// Feeds `bytes` to `decoder` and collects every event until it needs more; the first error
/// ends the collection, as it ends the consumer's connection.
fn feed(decoder: &mut Decoder, bytes: &[u8], events: &mut Vec<Event>) -> Result<(), Error> {
    decoder.read_buffer().extend_from_slice(bytes);
    while let Some(event) = decoder.next_event()? {
        events.push(event);
    }
    Ok(())
}

fn decode_all(bytes: &[u8]) -> (Vec<Event>, Result<(), Error>) {
    let mut events = Vec::new();
    let result = feed(&mut Decoder::new(), bytes, &mut events);
    (events, result)
}

fn delivered(tag: u64, body: &[u8], redelivered: bool) -> Event {
    Event::Delivery(BulkDelivery { tag, body: body.to_vec(), redelivered })
}

/// The read buffer keeps only what is not parsed yet (memory stays bounded over a long stream)
/// and always leaves room for one large socket read.
#[test]
fn the_read_buffer_stays_small_and_leaves_room_for_a_large_read() {
    let mut one = Vec::new();
    delivery(&mut one, 1, false, &[b"{\"vote\": 1}"]);
    let mut decoder = Decoder::new();
    let mut events = Vec::new();
    for round in 0..5_000 {
        // Half a delivery at a time: a partial frame is left over every other round.
        let (head, tail) = one.split_at(one.len() / 2);
        let room = decoder.read_buffer();
        assert!(room.capacity() - room.len() >= 4096, "round {round}: room for a large read");
        assert!(room.len() < one.len(), "round {round}: {} bytes kept, more than a partial delivery", room.len());
        feed(&mut decoder, head, &mut events).unwrap();
        feed(&mut decoder, tail, &mut events).unwrap();
    }
    assert_eq!(events.len(), 5_000);
    assert!(decoder.read_buffer().capacity() - decoder.read_buffer().len() >= READ_BUFFER / 2);
}

/// Bytes read but not parsed yet (a long frame arriving) never leave less than a large read's
/// room for the next read.
#[test]
fn a_nearly_full_read_buffer_is_grown_before_the_next_read() {
    let mut decoder = Decoder::new();
    let buffer = decoder.read_buffer();
    let spare = buffer.capacity() - buffer.len();
    buffer.resize(buffer.len() + spare - 100, 0);
    let buffer = decoder.read_buffer();
    assert!(buffer.capacity() - buffer.len() >= 4096, "{} bytes of room", buffer.capacity() - buffer.len());
}

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

#[test]
fn fields_written_for_the_handshake_read_back_as_written() {
    let mut out = Vec::new();
    out.push(7);
    out.extend_from_slice(&0x0102u16.to_be_bytes());
    out.extend_from_slice(&0x0304_0506u32.to_be_bytes());
    out.extend_from_slice(&0x0708_090A_0B0C_0D0Eu64.to_be_bytes());
    short_str(&mut out, "guest");
    short_str(&mut out, &"x".repeat(300));
    long_bytes(&mut out, b"\0guest\0guest");
    long_bytes(&mut out, &[9; 3]); // as a field table of 3 bytes, skipped whole
    out.push(42);
    long_bytes(&mut out, b"en_US");

    let mut r = Reader::new(&out);
    assert_eq!(r.u8().unwrap(), 7);
    assert_eq!(r.u16().unwrap(), 0x0102);
    assert_eq!(r.u32().unwrap(), 0x0304_0506);
    assert_eq!(r.u64().unwrap(), 0x0708_090A_0B0C_0D0E);
    assert_eq!(r.short_str_value().unwrap(), "guest");
    assert_eq!(r.short_str_value().unwrap(), "x".repeat(255), "a short string is cut to 255 bytes");
    let ahead = Reader { bytes: r.bytes, at: r.at, failed: false };
    assert_eq!(ahead.long_str().unwrap(), b"\0guest\0guest");
    let mut r = r.table().table();
    assert_eq!(r.u8().unwrap(), 42);
    assert_eq!(r.long_str().unwrap(), b"en_US");
}

#[test]
fn a_read_past_the_end_fails_and_every_read_after_it() {
    let bytes = [0, 5, b'a', b'b'];
    let mut r = Reader::new(&bytes);
    assert_eq!(r.u8().unwrap(), 0);
    assert!(r.short_str().is_err(), "5 bytes announced, 2 there");
    assert!(r.u8().is_err(), "a failed reader stays failed, though a byte is left");
    let mut skipped = Reader::new(&bytes).skip(3);
    assert_eq!(skipped.u8().unwrap(), b'b');
    assert!(Reader::new(&bytes).skip(5).u8().is_err());
    assert_eq!(Reader::new(&[1, b'z', 9]).short_str().and_then(|r| r.u8()).unwrap(), 9);
}

#[test]
fn deliveries_are_assembled_from_frames_split_anywhere() {
    let mut bytes = Vec::new();
    delivery(&mut bytes, 7, true, &[b"hello ", b"world"]);
    frame(&mut bytes, FRAME_HEARTBEAT, 0, &[]);
    delivery(&mut bytes, 8, true, &[]);
    // Fed a byte at a time, as a slow socket would: nothing until a delivery is whole.
    let mut decoder = Decoder::new();
    let mut got = Vec::new();
    for b in bytes {
        feed(&mut decoder, &[b], &mut got).expect("a valid stream");
    }
    assert_eq!(got, [delivered(7, b"hello world", true), delivered(8, b"", true)]);
}

#[test]
fn a_broken_frame_is_an_error_after_the_deliveries_before_it() {
    let mut bytes = Vec::new();
    delivery(&mut bytes, 1, false, &[b"ok"]);
    let mut broken = Vec::new();
    delivery(&mut broken, 2, false, &[b"lost"]);
    *broken.last_mut().unwrap() = 0; // no end marker
    bytes.extend_from_slice(&broken);
    let (events, result) = decode_all(&bytes);
    assert_eq!(events, [delivered(1, b"ok", false)]);
    assert!(matches!(result, Err(Error::Protocol(_))));
}

#[test]
fn a_frame_of_the_negotiated_maximum_is_taken_and_a_larger_one_refused() {
    // The maximum counts the 7-byte head and the end marker: a body frame carries at most
    // FRAME_MAX - 8 bytes.
    let largest = vec![b'v'; FRAME_MAX as usize - 8];
    let mut bytes = Vec::new();
    delivery(&mut bytes, 1, false, &[&largest]);
    let (events, result) = decode_all(&bytes);
    assert!(result.is_ok(), "{result:?}");
    assert_eq!(events, [delivered(1, &largest, false)]);

    let mut bytes = Vec::new();
    delivery(&mut bytes, 1, false, &[&vec![b'v'; FRAME_MAX as usize - 7]]);
    let (events, result) = decode_all(&bytes);
    assert!(events.is_empty());
    match result {
        Err(Error::Protocol(why)) => assert!(why.contains("exceeds"), "{why}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

#[test]
fn a_frame_on_a_channel_never_opened_is_refused() {
    let mut bytes = Vec::new();
    method(&mut bytes, 2, BASIC_DELIVER, |p| short_str(p, "ctag"));
    let (events, result) = decode_all(&bytes);
    assert!(events.is_empty());
    match result {
        Err(Error::Protocol(why)) => assert!(why.contains("channel 2"), "{why}"),
        other => panic!("expected a protocol error, got {other:?}"),
    }
    // Refused from the frame head alone, before its payload has even arrived.
    let (_, result) = decode_all(&bytes[..7]);
    assert!(matches!(result, Err(Error::Protocol(_))));
}

#[test]
fn methods_on_the_wrong_channel_and_content_out_of_place_are_refused() {
    // A delivery's method frame, then frames written by hand.
    let deliver = || {
        let mut b = Vec::new();
        delivery(&mut b, 1, false, &[]);
        let header_frame = 7 + 15 + 1;
        b.truncate(b.len() - header_frame);
        b
    };
    let header = |b: &mut Vec<u8>, channel: u16| {
        frame(b, FRAME_HEADER, channel, &[0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x10, 0, 2]);
    };
    let cases: [(&str, Vec<u8>); 9] = [
        ("heartbeat on the consumer's channel", {
            let mut b = Vec::new();
            frame(&mut b, FRAME_HEARTBEAT, CHANNEL, &[]);
            b
        }),
        ("content header on channel 0", {
            let mut b = deliver();
            header(&mut b, 0);
            frame(&mut b, FRAME_BODY, CHANNEL, b"x");
            b
        }),
        ("body on channel 0", {
            let mut b = deliver();
            header(&mut b, CHANNEL);
            frame(&mut b, FRAME_BODY, 0, b"x");
            b
        }),
        ("a second content header", {
            let mut b = deliver();
            header(&mut b, CHANNEL);
            header(&mut b, CHANNEL);
            frame(&mut b, FRAME_BODY, CHANNEL, b"x");
            b
        }),
        ("connection method on the consumer's channel", {
            let mut b = Vec::new();
            method(&mut b, CHANNEL, CONNECTION_CLOSE, |p| p.extend_from_slice(&[0, 200, 0]));
            b
        }),
        ("delivery on channel 0", {
            let mut b = Vec::new();
            delivery(&mut b, 1, false, &[b"x"]);
            b[2] = 0;
            b
        }),
        ("content header without a delivery", {
            let mut b = Vec::new();
            frame(&mut b, FRAME_HEADER, CHANNEL, &[0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]);
            b
        }),
        ("body longer than announced", {
            let mut b = Vec::new();
            delivery(&mut b, 1, false, &[b"ab"]);
            let (header_frame, body_frame) = (7 + 15 + 1, 7 + 2 + 1);
            let size_low_byte = b.len() - body_frame - header_frame + 7 + 11;
            assert_eq!(b[size_low_byte], 2);
            b[size_low_byte] = 1; // the header now announces one byte
            b
        }),
        ("a delivery inside another", {
            let mut b = Vec::new();
            delivery(&mut b, 1, false, &[b"x"]);
            let body_frame = 8 + 1;
            b.truncate(b.len() - body_frame);
            delivery(&mut b, 2, false, &[b"y"]);
            b
        }),
    ];
    for (case, bytes) in cases {
        let (events, result) = decode_all(&bytes);
        assert!(events.is_empty(), "{case}: {events:?}");
        assert!(matches!(result, Err(Error::Protocol(_))), "{case}: {result:?}");
    }
}

#[test]
fn a_frames_payload_is_the_bytes_between_its_head_and_its_end() {
    let mut bytes = Vec::new();
    frame(&mut bytes, FRAME_BODY, CHANNEL, b"first payload");
    frame(&mut bytes, FRAME_METHOD, 0, b"second");
    let mut decoder = Decoder::new();
    decoder.read_buffer().extend_from_slice(&bytes);
    let first = decoder.next_frame().expect("valid").expect("a frame");
    assert_eq!((first.kind, first.channel), (FRAME_BODY, CHANNEL));
    assert_eq!(decoder.payload(&first), b"first payload");
    let second = decoder.next_frame().expect("valid").expect("a frame");
    assert_eq!((second.kind, second.channel), (FRAME_METHOD, 0));
    assert_eq!(decoder.payload(&second), b"second");
}

#[test]
fn every_control_method_is_named_with_its_arguments() {
    fn close(code: u16, text: &'static str) -> impl FnOnce(&mut Vec<u8>) {
        move |p| {
            p.extend_from_slice(&code.to_be_bytes());
            short_str(p, text);
            p.extend_from_slice(&[0, 0, 0, 0]);
        }
    }
    let mut bytes = Vec::new();
    method(&mut bytes, 0, CONNECTION_CLOSE, close(320, "shutting down"));
    method(&mut bytes, CHANNEL, CHANNEL_CLOSE, close(404, "no queue"));
    method(&mut bytes, 0, CONNECTION_CLOSE_OK, |_| {});
    method(&mut bytes, CHANNEL, BASIC_CANCEL, |p| {
        short_str(p, "ctag");
        p.push(0);
    });
    method(&mut bytes, CHANNEL, CHANNEL_FLOW, |p| p.push(0));
    method(&mut bytes, CHANNEL, CHANNEL_FLOW, |p| p.push(1));
    method(&mut bytes, CHANNEL, BASIC_QOS_OK, |_| {});
    let (events, result) = decode_all(&bytes);
    result.expect("a valid stream");
    assert_eq!(
        events,
        [
            Control::ConnectionClose { code: 320, text: "shutting down".to_owned() },
            Control::ChannelClose { code: 404, text: "no queue".to_owned() },
            Control::ConnectionCloseOk,
            Control::Cancel,
            Control::Flow { active: false },
            Control::Flow { active: true },
            Control::Ignored,
        ]
        .map(Event::Control)
    );
}

#[test]
fn blocked_and_unblocked_are_named_between_deliveries() {
    let mut bytes = Vec::new();
    blocked(&mut bytes, "low on memory");
    delivery(&mut bytes, 1, false, &[b"still flowing"]);
    method(&mut bytes, 0, CONNECTION_UNBLOCKED, |_| {});
    let (events, result) = decode_all(&bytes);
    result.expect("a valid stream");
    assert_eq!(
        events,
        [
            Event::Control(Control::Blocked { reason: "low on memory".to_owned() }),
            delivered(1, b"still flowing", false),
            Event::Control(Control::Unblocked),
        ]
    );
}

#[test]
fn a_truncated_method_is_an_error_not_a_panic() {
    let mut r = Reader::new(&[0, 60, 0]);
    assert!(r.u16().is_ok());
    assert!(r.u16().is_err());
    assert!(r.u8().is_err(), "a failed reader stays failed");
}

/// What a valid stream is made of.
#[derive(Debug, Clone)]
enum Part {
    /// A delivery whose body is sent in these frames.
    Delivery {
        tag: u64,
        redelivered: bool,
        body: Vec<Vec<u8>>,
    },
    Heartbeat,
    Blocked(String),
    Unblocked,
}

fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        6 => (any::<u64>(), any::<bool>(), prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 0..4))
            .prop_map(|(tag, redelivered, body)| Part::Delivery { tag, redelivered, body }),
        1 => Just(Part::Heartbeat),
        1 => "[a-z ]{0,20}".prop_map(Part::Blocked),
        1 => Just(Part::Unblocked),
    ]
}

/// The bytes of `parts`, the events they must decode to, and where in the bytes each event
/// becomes complete.
fn encode(parts: &[Part]) -> (Vec<u8>, Vec<Event>, Vec<usize>) {
    let (mut bytes, mut events, mut ends) = (Vec::new(), Vec::new(), Vec::new());
    for part in parts {
        let event = match part {
            Part::Delivery { tag, redelivered, body } => {
                let slices: Vec<&[u8]> = body.iter().map(Vec::as_slice).collect();
                delivery(&mut bytes, *tag, *redelivered, &slices);
                Some(delivered(*tag, &body.concat(), *redelivered))
            }
            Part::Heartbeat => {
                frame(&mut bytes, FRAME_HEARTBEAT, 0, &[]);
                None
            }
            Part::Blocked(reason) => {
                blocked(&mut bytes, reason);
                Some(Event::Control(Control::Blocked { reason: reason.clone() }))
            }
            Part::Unblocked => {
                method(&mut bytes, 0, CONNECTION_UNBLOCKED, |_| {});
                Some(Event::Control(Control::Unblocked))
            }
        };
        if let Some(event) = event {
            events.push(event);
            ends.push(bytes.len());
        }
    }
    (bytes, events, ends)
}

/// `bytes` cut at `cuts` (each taken modulo the length), in order.
fn split<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    at.sort_unstable();
    let mut chunks = Vec::new();
    let mut from = 0;
    for cut in at.into_iter().chain([bytes.len()]) {
        chunks.push(&bytes[from..cut]);
        from = cut;
    }
    chunks
}

proptest! {
    #[test]
    fn a_valid_stream_decodes_the_same_however_it_is_split(
        parts in prop::collection::vec(part(), 0..12),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let (bytes, expected, _) = encode(&parts);
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        for chunk in split(&bytes, &cuts) {
            feed(&mut decoder, chunk, &mut events).expect("a valid stream");
        }
        prop_assert_eq!(events, expected);
    }

    #[test]
    fn a_truncated_stream_yields_exactly_the_events_it_holds_whole(
        parts in prop::collection::vec(part(), 1..12),
        keep in any::<usize>(),
    ) {
        let (bytes, expected, ends) = encode(&parts);
        let keep = keep % (bytes.len() + 1);
        let (events, result) = decode_all(&bytes[..keep]);
        prop_assert!(result.is_ok(), "a cut stream is waiting for more, not broken: {:?}", result);
        let whole = ends.iter().filter(|&&end| end <= keep).count();
        prop_assert_eq!(&events[..], &expected[..whole]);
    }

    #[test]
    fn garbage_never_panics_and_never_hides_what_came_before(
        parts in prop::collection::vec(part(), 0..6),
        garbage in prop::collection::vec(any::<u8>(), 0..400),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let (mut bytes, expected, _) = encode(&parts);
        bytes.extend_from_slice(&garbage);
        let mut decoder = Decoder::new();
        let mut events = Vec::new();
        for chunk in split(&bytes, &cuts) {
            if feed(&mut decoder, chunk, &mut events).is_err() {
                break;
            }
        }
        prop_assert!(events.len() >= expected.len(), "lost {:?}", &expected[events.len()..]);
        prop_assert_eq!(&events[..expected.len()], &expected[..]);
    }

    #[test]
    fn a_corrupted_byte_never_changes_the_events_before_it(
        parts in prop::collection::vec(part(), 1..8),
        at in any::<usize>(),
        flip in 1..=255u8,
    ) {
        let (mut bytes, expected, ends) = encode(&parts);
        prop_assume!(!bytes.is_empty());
        let at = at % bytes.len();
        bytes[at] ^= flip;
        let (events, _) = decode_all(&bytes);
        let before = ends.iter().filter(|&&end| end <= at).count();
        prop_assert!(events.len() >= before);
        prop_assert_eq!(&events[..before], &expected[..before]);
    }
}
