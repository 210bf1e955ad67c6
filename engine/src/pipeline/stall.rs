//! Noticing a consumer the broker has stopped feeding. After a node of a quorum queue's cluster
//! leaves and rejoins, a consumer can stay registered, its connection alive with heartbeats,
//! and receive nothing while messages wait. Nothing on the wire says so: the only sign is
//! silence while there is room for more. After `quiet` with no delivery and room in the
//! prefetch window, the shell asks the broker how many messages are ready; if some are and
//! still nothing arrived meanwhile, the session is stalled and is opened again.
//!
//! Pure: the shell feeds it the clock and what the broker said.

use std::time::Duration;

use tokio::time::Instant;

/// The watch over one session's silence.
#[derive(Debug)]
pub struct StallWatch {
    quiet: Duration,
    quiet_since: Instant,
    /// When the current probe of the queue started, if one is out.
    probing_since: Option<Instant>,
}

impl StallWatch {
    /// A watch that suspects a stall after `quiet` without a delivery.
    pub fn new(quiet: Duration, now: Instant) -> Self {
        Self { quiet, quiet_since: now, probing_since: None }
    }

    /// A new session started consuming: its silence counts from now; an earlier probe is void.
    pub fn session_opened(&mut self, now: Instant) {
        self.quiet_since = now;
        self.probing_since = None;
    }

    /// A delivery arrived.
    pub fn delivered(&mut self, now: Instant) {
        self.quiet_since = now;
    }

    /// When to look again, unless a probe is out.
    pub fn check_at(&self) -> Option<Instant> {
        self.probing_since.is_none().then(|| self.quiet_since + self.quiet)
    }

    /// At [`Self::check_at`]: whether to ask the broker for the queue's ready messages. A
    /// session with no room (its prefetch window full of unsettled deliveries) is not fed by
    /// design, so its silence starts over instead.
    pub fn start_probe(&mut self, now: Instant, has_room: bool) -> bool {
        if now < self.quiet_since + self.quiet || self.probing_since.is_some() {
            return false;
        }
        if has_room {
            self.probing_since = Some(now);
        } else {
            self.quiet_since = now;
        }
        has_room
    }

    /// The broker's answer: `ready` messages waiting (`None`: the probe failed). Returns how
    /// long the session has been silent when it is stalled: messages are ready and none was
    /// delivered since before the probe started. Otherwise the silence starts over.
    pub fn probed(&mut self, ready: Option<u32>, now: Instant) -> Option<Duration> {
        let started = self.probing_since.take()?;
        if self.quiet_since > started {
            return None; // fed meanwhile
        }
        if ready.is_some_and(|n| n > 0) {
            return Some(now - self.quiet_since);
        }
        self.quiet_since = now;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIET: Duration = Duration::from_secs(15);

    fn at(start: Instant, secs: u64) -> Instant {
        start + Duration::from_secs(secs)
    }

    #[test]
    fn silence_with_room_and_ready_messages_is_a_stall() {
        let t0 = Instant::now();
        let mut watch = StallWatch::new(QUIET, t0);
        watch.delivered(at(t0, 1));
        assert_eq!(watch.check_at(), Some(at(t0, 16)));
        assert!(!watch.start_probe(at(t0, 15), true), "not quiet long enough");
        assert!(watch.start_probe(at(t0, 16), true));
        assert_eq!(watch.check_at(), None, "one probe at a time");
        assert!(!watch.start_probe(at(t0, 17), true));
        assert_eq!(watch.probed(Some(3), at(t0, 17)), Some(Duration::from_secs(16)));
    }

    #[test]
    fn an_empty_queue_or_a_failed_probe_is_no_stall_and_the_silence_starts_over() {
        let t0 = Instant::now();
        let mut watch = StallWatch::new(QUIET, t0);
        for ready in [Some(0), None] {
            let due = watch.check_at().expect("no probe out");
            assert!(watch.start_probe(due, true));
            assert_eq!(watch.probed(ready, due + Duration::from_secs(1)), None);
            assert_eq!(watch.check_at(), Some(due + Duration::from_secs(1) + QUIET));
        }
    }

    #[test]
    fn a_delivery_while_the_probe_is_out_means_the_broker_feeds_the_session() {
        let t0 = Instant::now();
        let mut watch = StallWatch::new(QUIET, t0);
        assert!(watch.start_probe(at(t0, 15), true));
        watch.delivered(at(t0, 16));
        assert_eq!(watch.probed(Some(100), at(t0, 17)), None);
        assert_eq!(watch.check_at(), Some(at(t0, 31)));
    }

    #[test]
    fn a_full_window_is_silent_by_design() {
        let t0 = Instant::now();
        let mut watch = StallWatch::new(QUIET, t0);
        assert!(!watch.start_probe(at(t0, 15), false));
        assert_eq!(watch.check_at(), Some(at(t0, 30)));
        assert_eq!(watch.probed(Some(5), at(t0, 31)), None, "no probe was out");
    }

    #[test]
    fn a_new_session_voids_the_probe_and_restarts_the_silence() {
        let t0 = Instant::now();
        let mut watch = StallWatch::new(QUIET, t0);
        assert!(watch.start_probe(at(t0, 15), true));
        watch.session_opened(at(t0, 20));
        assert_eq!(watch.probed(Some(5), at(t0, 21)), None);
        assert_eq!(watch.check_at(), Some(at(t0, 35)));
    }
}
