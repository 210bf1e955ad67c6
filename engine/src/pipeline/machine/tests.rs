use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;

use super::*;

const POLICY: BatchPolicy =
    BatchPolicy { max_size: 3, max_age: Duration::from_millis(1000), linger: Duration::from_millis(5) };

fn vote(n: u64) -> String {
    format!(
        r#"{{"vote_hash":"h{n}","citizen_id":"c{n}","law_id":"law-{}","choice":"oui","timestamp":"2025-11-14T12:00:00Z"}}"#,
        n % 3
    )
}

fn one(n: u64) -> Message {
    Message::decode(vote(n).into_bytes())
}

fn garbage() -> Message {
    Message::decode(b"not json".to_vec())
}

/// A `vote.batch` of `votes` (`None`: an invalid element).
fn many(votes: &[Option<u64>]) -> Message {
    let items: Vec<String> = votes.iter().map(|v| v.map_or_else(|| r#"{"vote_hash":""}"#.to_owned(), vote)).collect();
    Message::decode(format!(r#"{{"event_type":"vote.batch","data":[{}]}}"#, items.join(",")).into_bytes())
}

fn machine() -> Machine {
    let mut m = Machine::new(POLICY, 2);
    assert_eq!(m.session_opened(), 1);
    m
}

/// The machine's actions, drained.
fn take(m: &mut Machine) -> Vec<Action> {
    m.actions().collect()
}

fn writes(actions: Vec<Action>) -> Vec<(u64, Vec<Pending>)> {
    actions
        .into_iter()
        .map(|a| match a {
            Action::Write { epoch, batch } => (epoch, batch),
            other => panic!("expected a write, got {other:?}"),
        })
        .collect()
}

fn tags(batch: &[Pending]) -> Vec<u64> {
    batch.iter().map(|p| p.tag).collect()
}

fn ack(up_to: u64) -> String {
    format!("{:?}", Action::Ack { up_to })
}

fn shown(actions: &[Action]) -> Vec<String> {
    actions.iter().map(|a| format!("{a:?}")).collect()
}

#[test]
fn a_full_batch_is_written_at_once_and_acked_after_it_committed() {
    let mut m = machine();
    let now = Instant::now();
    for tag in 1..=3 {
        m.delivered(tag, one(tag), now);
    }
    assert!(take(&mut m).is_empty(), "nothing is decided before a flush");
    m.flush(now);
    let mut w = writes(take(&mut m));
    assert_eq!(w.len(), 1);
    let (epoch, batch) = w.remove(0);
    assert_eq!((epoch, tags(&batch)), (1, vec![1, 2, 3]));
    assert_eq!(m.unacked(), 3);
    m.batch_written(epoch, batch, &[]);
    assert_eq!(shown(&take(&mut m)), vec![ack(3)]);
    assert_eq!(m.unacked(), 0);
}

#[test]
fn a_lone_vote_is_written_at_once_but_waits_while_another_batch_is_written() {
    let mut m = Machine::new(POLICY, 2);
    m.session_opened();
    let now = Instant::now();
    m.delivered(1, one(1), now);
    m.flush(now);
    assert_eq!(writes(take(&mut m)).len(), 1, "nothing else is coming: no linger");
    m.delivered(2, one(2), now);
    m.flush(now);
    assert!(take(&mut m).is_empty(), "a write is in flight: a non-full batch waits");
    assert_eq!(m.flush_deadline(), Some(now + POLICY.max_age));
    m.flush(now + POLICY.max_age);
    assert_eq!(writes(take(&mut m)).len(), 1);
}

#[test]
fn no_more_batches_are_written_at_once_than_allowed() {
    let mut m = machine();
    let now = Instant::now();
    for tag in 1..=9 {
        m.delivered(tag, one(tag), now);
    }
    m.flush(now);
    assert_eq!(writes(take(&mut m)).len(), 2, "two write slots");
    assert_eq!(m.flush_deadline(), None, "no slot free: no deadline");
    assert_eq!(m.pending(), 3);
}

#[test]
fn an_ack_never_covers_a_batch_still_being_written() {
    let mut m = machine();
    let now = Instant::now();
    for tag in 1..=6 {
        m.delivered(tag, one(tag), now);
    }
    m.flush(now);
    let mut w = writes(take(&mut m));
    let (e2, second) = w.pop().unwrap();
    let (e1, first) = w.pop().unwrap();
    m.batch_written(e2, second, &[]);
    assert!(take(&mut m).is_empty(), "tags 4-6 committed, 1-3 not: no ack");
    m.batch_written(e1, first, &[]);
    assert_eq!(shown(&take(&mut m)), vec![ack(6)]);
}

#[test]
fn work_of_an_earlier_session_settles_nothing_and_dead_letters_nothing() {
    let mut m = machine();
    let now = Instant::now();
    for tag in 1..=4 {
        m.delivered(tag, one(tag), now);
    }
    m.flush(now);
    let (epoch, batch) = writes(take(&mut m)).remove(0);
    assert_eq!(m.session_lost(), 1, "the fourth vote was pending");
    assert_eq!(m.pending(), 0);
    assert_eq!(m.session_opened(), 2);
    m.delivered(1, one(10), now);
    // The old batch commits with one vote refused: its tags belong to the lost channel.
    m.batch_written(epoch, batch, &[0]);
    assert!(take(&mut m).is_empty(), "{:?}", take(&mut m));
    assert_eq!(m.unacked(), 1, "only the new session's delivery");
}

#[test]
fn deliveries_without_a_session_are_ignored() {
    let mut m = Machine::new(POLICY, 1);
    m.delivered(1, one(1), Instant::now());
    assert_eq!(m.pending(), 0);
    assert_eq!(m.session_lost(), 0);
    assert!(!m.wants_deliveries());
}

#[test]
fn a_refused_vote_is_dead_lettered_and_the_rest_acked_once_it_is() {
    let mut m = machine();
    let now = Instant::now();
    for tag in 1..=3 {
        m.delivered(tag, one(tag), now);
    }
    m.flush(now);
    let (epoch, batch) = writes(take(&mut m)).remove(0);
    m.batch_written(epoch, batch, &[1]);
    let actions = take(&mut m);
    assert_eq!(actions.len(), 2, "{actions:?}");
    match &actions[0] {
        Action::DeadLetter { epoch: 1, tag: 2, body, rejection } => {
            assert_eq!(body, vote(2).as_bytes());
            assert_eq!(rejection.reason, RejectReason::DbRejected);
        }
        other => panic!("expected the dead letter of tag 2, got {other:?}"),
    }
    assert_eq!(shown(&actions[1..]), vec![ack(1)], "tag 1 only: 2 is not settled, 3 is behind it");
    m.dead_lettered(1, 2, true);
    assert_eq!(shown(&take(&mut m)), vec![ack(3)]);
}

#[test]
fn garbage_is_dead_lettered_at_once_and_requeued_when_not_confirmed() {
    let mut m = machine();
    let now = Instant::now();
    m.delivered(1, garbage(), now);
    m.delivered(2, one(2), now);
    let actions = take(&mut m);
    assert!(
        matches!(&actions[..], [Action::DeadLetter { tag: 1, body, rejection, .. }] if body == b"not json" && rejection.reason == RejectReason::InvalidJson),
        "{actions:?}"
    );
    m.dead_lettered(1, 1, false);
    assert_eq!(shown(&take(&mut m)), vec![format!("{:?}", Action::Requeue { tag: 1 })]);
    m.flush(now + POLICY.max_age);
    let (epoch, batch) = writes(take(&mut m)).remove(0);
    m.batch_written(epoch, batch, &[]);
    assert_eq!(shown(&take(&mut m)), vec![ack(2)], "the requeued tag is passed over, never named");
    assert!(!m.is_stopping());
}

#[test]
fn a_dead_letter_of_an_earlier_session_neither_settles_nor_requeues() {
    let mut m = machine();
    m.delivered(1, garbage(), Instant::now());
    take(&mut m);
    m.session_lost();
    m.session_opened();
    m.dead_lettered(1, 1, false);
    assert!(take(&mut m).is_empty());
    assert!(m.is_done() || !m.is_stopping());
    assert_eq!(m.in_flight(), 0);
}

#[test]
fn a_vote_batch_is_acked_once_every_vote_in_it_is_settled() {
    let mut m = machine();
    let now = Instant::now();
    m.delivered(1, many(&[Some(1), None, Some(2)]), now);
    let actions = take(&mut m);
    assert!(
        matches!(&actions[..], [Action::DeadLetter { tag: 1, body, .. }] if body == br#"{"vote_hash":""}"#),
        "the bad vote alone, with its own bytes: {actions:?}"
    );
    m.flush(now + POLICY.max_age);
    let (epoch, batch) = writes(take(&mut m)).remove(0);
    assert_eq!(tags(&batch), vec![1, 1]);
    m.batch_written(epoch, batch, &[]);
    assert!(take(&mut m).is_empty(), "the dead letter is not confirmed yet");
    m.dead_lettered(1, 1, true);
    assert_eq!(shown(&take(&mut m)), vec![ack(1)]);
}

#[test]
fn a_vote_batch_goes_back_to_the_queue_once_however_many_dead_letters_fail() {
    let mut m = machine();
    let now = Instant::now();
    m.delivered(1, many(&[None, Some(1), None]), now);
    m.delivered(2, one(2), now);
    assert_eq!(take(&mut m).len(), 2);
    m.dead_lettered(1, 1, false);
    assert_eq!(shown(&take(&mut m)), vec![format!("{:?}", Action::Requeue { tag: 1 })]);
    m.dead_lettered(1, 1, false);
    assert!(take(&mut m).is_empty(), "not requeued twice");
    m.flush(now + POLICY.max_age);
    let (epoch, batch) = writes(take(&mut m)).remove(0);
    m.batch_written(epoch, batch, &[]);
    assert_eq!(shown(&take(&mut m)), vec![ack(2)]);
}

#[test]
fn shutdown_writes_what_is_pending_at_once_and_is_done_when_nothing_is_in_flight() {
    let mut m = machine();
    let now = Instant::now();
    m.delivered(1, one(1), now);
    m.delivered(2, garbage(), now);
    let dead_letters = take(&mut m);
    assert!(!m.is_done());
    m.stop();
    assert!(!m.wants_deliveries());
    m.flush(now);
    let (epoch, batch) = writes(take(&mut m)).remove(0);
    assert!(!m.is_done(), "a write and a dead letter in flight");
    m.batch_written(epoch, batch, &[]);
    assert!(!m.is_done(), "a dead letter in flight");
    let [Action::DeadLetter { epoch, tag, .. }] = &dead_letters[..] else { panic!("{dead_letters:?}") };
    m.dead_lettered(*epoch, *tag, true);
    assert!(m.is_done());
    assert_eq!(shown(&take(&mut m)), vec![ack(1), ack(2)]);
}

/// One step of a random run.
#[derive(Debug, Clone)]
enum Step {
    /// A single vote (`true`) or a garbage message.
    Deliver(bool),
    /// A `vote.batch`; `false` elements are invalid.
    DeliverMany(Vec<bool>),
    /// Time passes, then due batches are written.
    Flush(u64),
    /// The in-flight write at this index (modulo) finishes; these vote indices were refused.
    FinishWrite(usize, Vec<usize>),
    /// The in-flight dead letter at this index (modulo) finishes, confirmed or not.
    FinishDeadLetter(usize, bool),
    /// The session is lost, and a new one opened.
    Reconnect,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::bool::weighted(0.8).prop_map(Step::Deliver),
        2 => prop::collection::vec(prop::bool::weighted(0.8), 1..5).prop_map(Step::DeliverMany),
        3 => (0u64..1500).prop_map(Step::Flush),
        4 => (any::<usize>(), prop::collection::vec(0usize..4, 0..2)).prop_map(|(i, p)| Step::FinishWrite(i, p)),
        3 => (any::<usize>(), prop::bool::weighted(0.7)).prop_map(|(i, c)| Step::FinishDeadLetter(i, c)),
        1 => Just(Step::Reconnect),
    ]
}

/// What the broker of the current session knows: each delivery's votes and how many are done.
#[derive(Default)]
struct Channel {
    /// tag -> (votes in the message, votes settled: committed or dead-lettered with a confirm).
    votes: BTreeMap<u64, (usize, usize)>,
    requeued: BTreeSet<u64>,
    acked_up_to: u64,
    next_tag: u64,
}

struct Run {
    m: Machine,
    now: Instant,
    epoch: u64,
    channel: Channel,
    writes: Vec<(u64, Vec<Pending>)>,
    dead_letters: Vec<(u64, u64)>,
    serial: u64,
}

impl Run {
    fn new() -> Self {
        let mut m = Machine::new(POLICY, 2);
        let epoch = m.session_opened();
        Self {
            m,
            now: Instant::now(),
            epoch,
            channel: Channel { next_tag: 1, ..Default::default() },
            writes: vec![],
            dead_letters: vec![],
            serial: 0,
        }
    }

    fn apply(&mut self, step: Step) {
        match step {
            Step::Deliver(valid) => {
                let message = if valid { self.vote() } else { garbage() };
                self.deliver(message, 1);
            }
            Step::DeliverMany(valid) => {
                let votes: Vec<Option<u64>> = valid.iter().map(|&ok| ok.then(|| self.next_serial())).collect();
                self.deliver(many(&votes), votes.len());
            }
            Step::Flush(ms) => {
                self.now += Duration::from_millis(ms);
                self.m.flush(self.now);
            }
            Step::FinishWrite(i, poisoned) if !self.writes.is_empty() => {
                let (epoch, batch) = self.writes.remove(i % self.writes.len());
                let poisoned: Vec<usize> = poisoned.into_iter().filter(|&p| p < batch.len()).collect();
                if epoch == self.epoch {
                    for (i, p) in batch.iter().enumerate() {
                        if !poisoned.contains(&i) {
                            self.channel.votes.get_mut(&p.tag).unwrap().1 += 1;
                        }
                    }
                }
                self.m.batch_written(epoch, batch, &poisoned);
            }
            Step::FinishDeadLetter(i, confirmed) if !self.dead_letters.is_empty() => {
                let (epoch, tag) = self.dead_letters.remove(i % self.dead_letters.len());
                if epoch == self.epoch && confirmed {
                    self.channel.votes.get_mut(&tag).unwrap().1 += 1;
                }
                self.m.dead_lettered(epoch, tag, confirmed);
            }
            Step::FinishWrite(..) | Step::FinishDeadLetter(..) => {}
            Step::Reconnect => {
                self.m.session_lost();
                self.epoch = self.m.session_opened();
                self.channel = Channel { next_tag: 1, ..Default::default() };
            }
        }
        self.check_actions();
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn vote(&mut self) -> Message {
        one(self.next_serial())
    }

    fn deliver(&mut self, message: Message, votes: usize) {
        let tag = self.channel.next_tag;
        self.channel.next_tag += 1;
        self.channel.votes.insert(tag, (votes, 0));
        self.m.delivered(tag, message, self.now);
    }

    /// Every action is checked against the channel as the broker would see it.
    fn check_actions(&mut self) {
        for action in self.m.actions().collect::<Vec<_>>() {
            match action {
                Action::Write { epoch, batch } => {
                    assert_eq!(epoch, self.epoch, "a write is always of the current session");
                    assert!(!batch.is_empty() && batch.len() <= POLICY.max_size);
                    self.writes.push((epoch, batch));
                }
                Action::DeadLetter { epoch, tag, .. } => {
                    assert_eq!(epoch, self.epoch, "a dead letter is always of the current session");
                    // A vote of a delivery already sent back to the queue may still be refused
                    // and dead-lettered: dead letters are at least once.
                    assert!(self.channel.votes.contains_key(&tag));
                    assert!(
                        tag > self.channel.acked_up_to || self.channel.requeued.contains(&tag),
                        "dead letter of acked tag {tag}"
                    );
                    self.dead_letters.push((epoch, tag));
                }
                Action::Ack { up_to } => {
                    assert!(up_to > self.channel.acked_up_to, "acks only move forward");
                    assert!(!self.channel.requeued.contains(&up_to), "an ack never names a requeued tag");
                    for (tag, (votes, done)) in self.channel.votes.range(self.channel.acked_up_to + 1..=up_to) {
                        assert!(
                            self.channel.requeued.contains(tag) || done == votes,
                            "ack up to {up_to} covers tag {tag} with {done} of {votes} votes settled"
                        );
                    }
                    self.channel.acked_up_to = up_to;
                }
                Action::Requeue { tag } => {
                    assert!(tag > self.channel.acked_up_to, "requeue of an acked tag {tag}");
                    assert!(self.channel.requeued.insert(tag), "tag {tag} requeued twice");
                }
            }
        }
    }

    /// Stops, then finishes every write and dead letter (confirmed, nothing refused).
    fn drain(&mut self) {
        self.m.stop();
        self.m.flush(self.now);
        self.check_actions();
        while !self.writes.is_empty() || !self.dead_letters.is_empty() {
            if !self.writes.is_empty() {
                self.apply(Step::FinishWrite(0, vec![]));
            } else {
                self.apply(Step::FinishDeadLetter(0, true));
            }
            self.m.flush(self.now);
            self.check_actions();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever happens in whatever order, an ack covers only settled deliveries of the current
    /// session, a requeue happens once per delivery, and the shutdown drain settles everything
    /// of the current session and ends.
    #[test]
    fn acks_cover_only_settled_deliveries_and_the_drain_settles_everything(
        steps in prop::collection::vec(step(), 0..120)
    ) {
        let mut run = Run::new();
        for step in steps {
            run.apply(step);
        }
        run.drain();
        prop_assert!(run.m.is_done());
        prop_assert_eq!(run.m.unacked(), 0, "every delivery of the session acked or requeued");
        let last = run.channel.next_tag - 1;
        let unacked: Vec<u64> = (run.channel.acked_up_to + 1..=last).filter(|t| !run.channel.requeued.contains(t)).collect();
        prop_assert!(unacked.is_empty(), "left unsettled: {:?}", unacked);
    }
}

#[test]
fn deliveries_are_wanted_while_a_session_lives_and_until_shutdown() {
    let mut m = Machine::new(POLICY, 2);
    assert!(!m.wants_deliveries(), "no session yet");
    m.session_opened();
    assert!(m.wants_deliveries() && !m.is_stopping());
    m.session_lost();
    assert!(!m.wants_deliveries(), "the session is gone");
    m.session_opened();
    m.stop();
    assert!(!m.wants_deliveries() && m.is_stopping());
}

#[test]
fn in_flight_counts_writes_and_dead_letters() {
    let mut m = machine();
    let now = Instant::now();
    assert_eq!(m.in_flight(), 0);
    m.delivered(1, garbage(), now);
    for tag in 2..=4 {
        m.delivered(tag, one(tag), now);
    }
    m.flush(now);
    assert_eq!(m.in_flight(), 2, "one write and one dead letter");
    let actions = take(&mut m);
    assert_eq!(actions.len(), 2);
}

#[test]
fn a_vote_batch_of_one_vote_is_tracked_like_a_single_vote() {
    let mut m = machine();
    m.delivered(1, many(&[Some(1)]), Instant::now());
    assert!(m.session.as_ref().is_some_and(|s| s.parts.is_empty()), "no per-part bookkeeping for one vote");
    m.delivered(2, many(&[Some(2), Some(3)]), Instant::now());
    assert_eq!(m.session.as_ref().map(|s| s.parts.len()), Some(1));
}

#[test]
fn behind_a_write_a_lone_vote_waits_for_company_up_to_max_age() {
    let mut m = machine();
    let t0 = Instant::now();
    m.delivered(1, one(1), t0);
    let alone = m.flush_deadline().expect("a vote is pending");
    assert!(alone < t0 + POLICY.max_age, "with no write in flight a lone vote does not wait for max_age");
    for tag in 2..=3 {
        m.delivered(tag, one(tag), t0);
    }
    m.flush(t0);
    assert_eq!(writes(take(&mut m)).len(), 1, "the full batch");
    m.delivered(4, one(4), t0);
    assert_eq!(m.flush_deadline(), Some(t0 + POLICY.max_age));
    m.flush(t0 + POLICY.linger * 2);
    assert!(take(&mut m).is_empty(), "the linger alone does not release it while a write is in flight");
    m.flush(t0 + POLICY.max_age);
    assert_eq!(writes(take(&mut m)).len(), 1);
}
