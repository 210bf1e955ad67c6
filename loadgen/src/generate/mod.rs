//! Step 1 of a run: a seeded stream of messages for the engine's queue, cheap to produce, whose
//! effect on the counts is known exactly.
//!
//! Every unique vote is one (citizen, law) pair with one choice and one `vote_hash`. The other
//! messages are built so that the counting rule cannot make the expected totals ambiguous:
//! - a *resend* repeats an earlier vote with the same `vote_hash`;
//! - a *revote* is the same citizen on the same law with a fresh `vote_hash` and the SAME choice,
//!   so whichever copy the counting rule picks, the law's oui/non totals are the same;
//! - a *conflicting* vote (only with `conflict_ratio` > 0) is the same citizen on the same law
//!   with the OTHER choice and a timestamp a day before or after, so which of the two counts
//!   follows from `revote_rule` and the timestamps alone; half of them are published before the
//!   vote they conflict with;
//! - *garbage* breaks one validation rule and names a citizen no valid vote uses, so a validator
//!   that wrongly accepted it would show up as a double count.
//!
//! Bodies are rendered once, with fixed-width timestamp slots that the publisher overwrites with
//! the publish time as it sends (see [`Message::render_into`]).

use std::collections::VecDeque;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Zipf};

use crate::Error;
use crate::contract::{Choice, RevoteRule};
use crate::expected::Expected;
pub use crate::expected::{LAW_DIGITS, law_id};

mod body;
mod garbage;
mod message;
mod tally;

pub use body::citizen_id;
use body::{VoteFields, ascii, fnv1a, gcd, hash_hex, open_envelope, splitmix, write_vote};
pub use garbage::Garbage;
pub use message::{Message, MessageKind, STAMP_LEN, Stamp};
pub use tally::Tally;

/// Longest accepted `--law-prefix`: keeps every law id well under the 128-byte field limit.
pub const MAX_LAW_PREFIX_BYTES: usize = 96;
/// Producer name written into `vote.cast` envelopes.
pub const PRODUCER: &str = "loadgen";
/// Duplicates pick their original among this many latest votes half of the time, so that many
/// land in the same engine batch as their original; the other half pick from the whole run.
const RECENT_VOTES: usize = 1024;
/// One original vote in this many uses a citizen id of exactly [`MAX_FIELD_BYTES`] bytes with
/// multi-byte characters: valid at the limit, and must be counted.
const LONG_CITIZEN_ONE_IN: u32 = 200;

/// A fresh, short law prefix (`law-3fa9c2-`), so that runs sharing a database never share laws.
pub fn random_law_prefix() -> String {
    format!("law-{:06x}-", rand::random::<u32>() & 0x00ff_ffff)
}

/// What the generator produces and how.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratorConfig {
    /// Prefix of this run's law ids; `[A-Za-z0-9._:-]`, at most [`MAX_LAW_PREFIX_BYTES`].
    pub law_prefix: String,
    /// Number of laws voted on.
    pub laws: u32,
    /// Number of distinct citizens; each votes at most once per law.
    pub citizens: u32,
    /// Zipf exponent of the law popularity: 0 is uniform, 1 is the classic skew.
    pub zipf: f64,
    /// Fraction of messages that are duplicates (resends and revotes, half each).
    pub duplicate_ratio: f64,
    /// Fraction of messages that are garbage the engine must reject.
    pub invalid_ratio: f64,
    /// Fraction of messages that are conflicting votes (the other choice, a day earlier or later).
    pub conflict_ratio: f64,
    /// The rule the engine counts by (`REVOTE_RULE`): which of two conflicting votes is expected.
    pub revote_rule: RevoteRule,
    /// Fraction of votes sent wrapped in a `vote.cast` event envelope.
    pub envelope_ratio: f64,
    /// Seed of the stream: same seed and settings, same messages (timestamps aside).
    pub seed: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            law_prefix: random_law_prefix(),
            laws: 100,
            citizens: 1_000_000,
            zipf: 1.0,
            duplicate_ratio: 0.05,
            invalid_ratio: 0.01,
            conflict_ratio: 0.0,
            revote_rule: RevoteRule::First,
            envelope_ratio: 0.1,
            seed: rand::random(),
        }
    }
}

impl GeneratorConfig {
    /// Checks ranges and that every law id is a valid field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |why: String| Err(Error::Config(why));
        if self.law_prefix.is_empty() || self.law_prefix.len() > MAX_LAW_PREFIX_BYTES {
            return bad(format!("--law-prefix must be 1 to {MAX_LAW_PREFIX_BYTES} bytes"));
        }
        if !self.law_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)) {
            return bad("--law-prefix may only contain letters, digits and . _ : -".to_owned());
        }
        if self.laws == 0 || u64::from(self.laws) >= 10u64.pow(LAW_DIGITS as u32) {
            return bad(format!("--laws must be between 1 and {}", 10u64.pow(LAW_DIGITS as u32) - 1));
        }
        if self.citizens == 0 {
            return bad("--citizens must be at least 1".to_owned());
        }
        if !(self.zipf.is_finite() && self.zipf >= 0.0) {
            return bad("--zipf must be a finite number >= 0".to_owned());
        }
        for (name, ratio) in [
            ("--duplicate-ratio", self.duplicate_ratio),
            ("--invalid-ratio", self.invalid_ratio),
            ("--conflict-ratio", self.conflict_ratio),
            ("--envelope-ratio", self.envelope_ratio),
        ] {
            if !(0.0..=1.0).contains(&ratio) {
                return bad(format!("{name} must be between 0 and 1"));
            }
        }
        if self.duplicate_ratio + self.invalid_ratio + self.conflict_ratio > 1.0 {
            return bad("--duplicate-ratio + --invalid-ratio + --conflict-ratio must not exceed 1".to_owned());
        }
        Ok(())
    }

    /// Every law id of the run, in order.
    pub fn law_ids(&self) -> Vec<String> {
        (0..self.laws).map(|i| law_id(&self.law_prefix, i)).collect()
    }
}

/// A unique vote of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteRecord {
    /// Law index (0-based).
    pub law: u32,
    /// Citizen number.
    pub citizen: u32,
    /// The choice every copy of this vote carries.
    pub choice: Choice,
    /// Whether the citizen id is the 128-byte form.
    pub long_citizen: bool,
    /// A conflicting vote was generated for it: whether its timestamp is the earlier.
    pub conflict: Option<bool>,
}

struct Law {
    id: String,
    /// Voters so far; the next one is citizen `(stride * next + offset) % citizens`, a
    /// permutation of the citizens, so no citizen votes twice on a law without bookkeeping.
    next: u64,
    stride: u64,
    offset: u64,
    oui_probability: f64,
}

/// The seeded message stream. Not thread-safe; share it behind a lock.
pub struct Generator {
    config: GeneratorConfig,
    rng: StdRng,
    zipf: Option<Zipf<f64>>,
    salt: u64,
    laws: Vec<Law>,
    open_laws: u32,
    votes: Vec<VoteRecord>,
    aliases: u64,
    stamp: Stamp,
    /// Messages produced so far.
    produced: u64,
    /// Originals held back behind their conflicting vote: (due at `produced`, vote, envelope).
    deferred: VecDeque<(u64, u32, bool)>,
}

impl Generator {
    /// A generator for `config` (validated here).
    pub fn new(config: GeneratorConfig) -> Result<Self, Error> {
        config.validate()?;
        let mut rng = StdRng::seed_from_u64(config.seed);
        let zipf = if config.zipf > 0.0 && config.laws > 1 {
            Some(Zipf::new(f64::from(config.laws), config.zipf).map_err(|e| Error::Config(format!("--zipf: {e}")))?)
        } else {
            None
        };
        let citizens = u64::from(config.citizens);
        let laws = (0..config.laws)
            .map(|i| {
                let stride = loop {
                    let s = rng.random_range(1..=citizens.max(2) - 1).max(1);
                    if gcd(s, citizens) == 1 {
                        break s;
                    }
                };
                Law {
                    id: law_id(&config.law_prefix, i),
                    next: 0,
                    stride,
                    offset: rng.random_range(0..citizens),
                    // Each law leans its own way, so swapped oui/non counts are visible.
                    oui_probability: rng.random_range(0.25..0.75),
                }
            })
            .collect();
        let salt = splitmix(fnv1a(config.law_prefix.as_bytes()) ^ config.seed.rotate_left(17));
        Ok(Self {
            open_laws: config.laws,
            config,
            rng,
            zipf,
            salt,
            laws,
            votes: Vec::new(),
            aliases: 0,
            stamp: Stamp::now(),
            produced: 0,
            deferred: VecDeque::new(),
        })
    }

    /// The settings.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Unique votes generated so far.
    pub fn votes(&self) -> &[VoteRecord] {
        &self.votes
    }

    /// Appends `n` messages to `out`.
    pub fn fill(&mut self, n: usize, out: &mut Vec<Message>) {
        self.stamp = Stamp::now();
        out.reserve(n);
        for _ in 0..n {
            out.push(self.next_message());
        }
    }

    /// The next message of the stream.
    pub fn next_message(&mut self) -> Message {
        self.produced += 1;
        if let Some(&(due, id, envelope)) = self.deferred.front()
            && due <= self.produced
        {
            self.deferred.pop_front();
            return self.vote_message(
                id,
                MessageKind::Original { vote: id },
                &hash_hex(self.salt, u64::from(id)),
                envelope,
            );
        }
        let r: f64 = self.rng.random();
        if r < self.config.invalid_ratio {
            return self.garbage();
        }
        let envelope = self.config.envelope_ratio > 0.0 && self.rng.random::<f64>() < self.config.envelope_ratio;
        let duplicate = self.config.invalid_ratio + self.config.duplicate_ratio;
        if (r < duplicate && !self.votes.is_empty()) || self.open_laws == 0 {
            return self.duplicate(envelope);
        }
        if (duplicate..duplicate + self.config.conflict_ratio).contains(&r) {
            return self.conflicting(envelope);
        }
        self.original(envelope)
    }

    /// The expected totals of everything `tally` recorded as published.
    pub fn expected(&self, tally: &Tally, queue: &str) -> Expected {
        let config = &self.config;
        let mut expected = Expected::new(&config.law_prefix, config.laws, config.seed, queue);
        expected.revote_rule = config.revote_rule;
        for (id, vote) in self.votes.iter().enumerate() {
            let law = &self.laws[vote.law as usize].id;
            let (own, conflicting) = (tally.has_vote(id as u32), tally.has_conflicting(id as u32));
            // The conflicting vote wins when it ranks first: the earlier under `first`, the
            // later under `last`.
            let conflicting_ranks_first = vote.conflict == Some(self.config.revote_rule == RevoteRule::First);
            match (own, conflicting) {
                (true, true) => {
                    let choice = if conflicting_ranks_first { vote.choice.other() } else { vote.choice };
                    expected.add_vote(law, choice);
                }
                (true, false) => expected.add_vote(law, vote.choice),
                (false, true) => expected.add_vote(law, vote.choice.other()),
                (false, false) => {}
            }
        }
        tally.add_to(&mut expected);
        // Every confirmed vote message counts once or is recorded as not counted.
        expected.duplicates_sent = tally.originals + tally.resends + tally.revotes + tally.conflicting - expected.total;
        expected
    }

    fn original(&mut self, envelope: bool) -> Message {
        let id = self.new_vote();
        let hash = hash_hex(self.salt, u64::from(id));
        self.vote_message(id, MessageKind::Original { vote: id }, &hash, envelope)
    }

    /// A conflicting vote: half the time for a new vote whose original is held back for up to
    /// [`RECENT_VOTES`] messages, otherwise for a vote already sent; a vote has at most one.
    fn conflicting(&mut self, envelope: bool) -> Message {
        let id = if self.votes.is_empty() || self.rng.random_bool(0.5) {
            let id = self.new_vote();
            let due = self.produced + self.rng.random_range(1..=RECENT_VOTES as u64);
            let at = self.deferred.partition_point(|&(d, _, _)| d <= due);
            self.deferred.insert(at, (due, id, envelope));
            id
        } else {
            let n = self.votes.len();
            let id = self.rng.random_range(n.saturating_sub(RECENT_VOTES)..n) as u32;
            if self.votes[id as usize].conflict.is_some() {
                return self.duplicate(envelope);
            }
            id
        };
        let earlier = self.rng.random_bool(0.5);
        self.votes[id as usize].conflict = Some(earlier);
        let hash = self.alias_hash(1 << 61);
        self.vote_message(id, MessageKind::Conflicting { vote: id, earlier }, &hash, envelope)
    }

    /// Draws a new (citizen, law) pair and its choice; nothing is sent yet.
    fn new_vote(&mut self) -> u32 {
        let law = self.pick_open_law();
        let state = &mut self.laws[law as usize];
        let citizen = ((state.stride * state.next + state.offset) % u64::from(self.config.citizens)) as u32;
        state.next += 1;
        if state.next == u64::from(self.config.citizens) {
            self.open_laws -= 1;
        }
        let choice =
            if self.rng.random::<f64>() < self.laws[law as usize].oui_probability { Choice::Oui } else { Choice::Non };
        let long_citizen = self.rng.random_ratio(1, LONG_CITIZEN_ONE_IN);
        let id = self.votes.len() as u32;
        self.votes.push(VoteRecord { law, citizen, choice, long_citizen, conflict: None });
        id
    }

    fn duplicate(&mut self, envelope: bool) -> Message {
        let n = self.votes.len();
        let id = if self.rng.random_bool(0.5) {
            self.rng.random_range(n.saturating_sub(RECENT_VOTES)..n)
        } else {
            self.rng.random_range(0..n)
        } as u32;
        if self.rng.random_bool(0.5) {
            let hash = hash_hex(self.salt, u64::from(id));
            self.vote_message(id, MessageKind::Resend { vote: id }, &hash, envelope)
        } else {
            let hash = self.alias_hash(1 << 63);
            self.vote_message(id, MessageKind::Revote { vote: id }, &hash, envelope)
        }
    }

    fn vote_message(&mut self, id: u32, kind: MessageKind, hash: &[u8; 32], envelope: bool) -> Message {
        let vote = self.votes[id as usize];
        let event_id = self.event_id();
        let citizen = citizen_id(vote.citizen, vote.long_citizen);
        let law = &self.laws[vote.law as usize].id;
        let mut body = Vec::with_capacity(if envelope { 320 } else { 180 });
        let mut stamps = [0u32; 2];
        if envelope {
            stamps[0] = open_envelope(&mut body, "vote.cast", event_id, &self.stamp);
            body.extend_from_slice(b",\"data\":");
        }
        let choice = match kind {
            MessageKind::Conflicting { .. } => vote.choice.other(),
            _ => vote.choice,
        };
        let fields = VoteFields { hash: ascii(hash), citizen: &citizen, law, choice: choice.as_str() };
        stamps[usize::from(envelope)] = write_vote(&mut body, &fields, &self.stamp, &[]);
        if envelope {
            body.push(b'}');
        }
        Message { body, kind, envelope, law: Some(vote.law), stamps }
    }

    fn event_id(&mut self) -> uuid::Uuid {
        uuid::Builder::from_random_bytes(self.rng.random()).into_uuid()
    }

    fn pick_open_law(&mut self) -> u32 {
        let n = self.config.laws;
        let drawn = match &self.zipf {
            Some(zipf) => (zipf.sample(&mut self.rng) as u32).clamp(1, n) - 1,
            None => self.rng.random_range(0..n),
        };
        // A law whose citizens have all voted hands its share to the next open law.
        let citizens = u64::from(self.config.citizens);
        (0..n).map(|k| (drawn + k) % n).find(|&law| self.laws[law as usize].next < citizens).unwrap_or(drawn)
    }

    fn alias_hash(&mut self, space: u64) -> [u8; 32] {
        self.aliases += 1;
        hash_hex(self.salt, space | self.aliases)
    }
}

#[cfg(test)]
mod tests {
    use rand::seq::SliceRandom;
    use time::format_description::well_known::Rfc3339;

    use time::OffsetDateTime;

    use super::*;
    use crate::contract::MAX_FIELD_BYTES;
    use crate::model::{Counter, validate};

    fn config(seed: u64) -> GeneratorConfig {
        GeneratorConfig {
            law_prefix: "law-test01-".to_owned(),
            laws: 20,
            citizens: 5_000,
            zipf: 1.1,
            duplicate_ratio: 0.2,
            invalid_ratio: 0.1,
            envelope_ratio: 0.3,
            seed,
            ..GeneratorConfig::default()
        }
    }

    fn stream(config: GeneratorConfig, n: usize) -> (Generator, Vec<Message>) {
        let mut generator = Generator::new(config).unwrap();
        let mut messages = Vec::new();
        generator.fill(n, &mut messages);
        (generator, messages)
    }

    fn tally(messages: &[Message]) -> Tally {
        let mut tally = Tally::default();
        messages.iter().for_each(|m| tally.record(m));
        tally
    }

    #[test]
    fn ratios_follow_the_settings() {
        let n = 50_000;
        let (_, messages) = stream(config(1), n);
        let share = |f: &dyn Fn(&Message) -> bool| messages.iter().filter(|m| f(m)).count() as f64 / n as f64;
        let invalid = share(&|m| matches!(m.kind, MessageKind::Invalid(_)));
        let resends = share(&|m| matches!(m.kind, MessageKind::Resend { .. }));
        let revotes = share(&|m| matches!(m.kind, MessageKind::Revote { .. }));
        assert!((invalid - 0.1).abs() < 0.01, "invalid share {invalid}");
        assert!((resends + revotes - 0.2).abs() < 0.01, "duplicate share {}", resends + revotes);
        assert!((resends - revotes).abs() < 0.01, "resends {resends} vs revotes {revotes}");
        let valid = messages.iter().filter(|m| m.kind.vote().is_some());
        let (count, wrapped) = valid.fold((0, 0), |(c, w), m| (c + 1, w + usize::from(m.envelope)));
        let envelopes = wrapped as f64 / count as f64;
        assert!((envelopes - 0.3).abs() < 0.01, "envelope share {envelopes}");
        for kind in Garbage::ALL {
            assert!(
                messages.iter().any(|m| m.kind == MessageKind::Invalid(kind)),
                "no {kind:?} in 5000 garbage messages"
            );
        }
    }

    #[test]
    fn every_message_is_what_its_kind_says() {
        let (_, messages) = stream(config(2), 20_000);
        let stamp = Stamp::now();
        for message in &messages {
            let body = message.render(&stamp);
            match (message.kind, validate(&body)) {
                (MessageKind::Invalid(kind), Some(vote)) => panic!("{kind:?} passed validation: {vote:?}"),
                (MessageKind::Invalid(_), None) => {}
                (kind, None) => panic!("{kind:?} failed validation: {}", String::from_utf8_lossy(&body)),
                (_, Some(vote)) => assert!(vote.law_id.starts_with("law-test01-")),
            }
        }
    }

    /// The counting rule over `messages`, each stamped with its own publish time, a microsecond
    /// apart in stream order.
    fn count(rule: RevoteRule, messages: &[&Message]) -> (Counter, crate::model::Counted) {
        let start = OffsetDateTime::now_utc();
        let mut counter = Counter::new(rule);
        for (i, message) in messages.iter().enumerate() {
            let stamp = Stamp::at(start + time::Duration::microseconds(i as i64));
            counter.apply(&message.render(&stamp));
        }
        let counted = counter.count();
        (counter, counted)
    }

    #[test]
    fn expected_totals_equal_the_counting_rule_in_any_order() {
        for rule in [RevoteRule::First, RevoteRule::Last] {
            let config = GeneratorConfig { conflict_ratio: 0.1, revote_rule: rule, ..config(3) };
            let (generator, messages) = stream(config, 30_000);
            let expected = generator.expected(&tally(&messages), "q");
            assert_eq!(expected.messages_sent, 30_000);
            assert_eq!(expected.revote_rule, rule);
            assert!(expected.conflicting_sent > 2_000, "{}", expected.conflicting_sent);
            assert_eq!(expected.total, expected.oui + expected.non);
            assert_eq!(expected.total, expected.laws.values().map(|l| l.total()).sum::<u64>());
            let mut order: Vec<&Message> = messages.iter().collect();
            let mut rng = StdRng::seed_from_u64(99);
            for _ in 0..3 {
                let (counter, counted) = count(rule, &order);
                assert_eq!(counted.laws, expected.laws, "{rule:?}");
                assert_eq!(counted.counted, expected.total);
                assert_eq!(counter.invalid, expected.invalid_sent);
                assert_eq!(counted.duplicates, expected.duplicates_sent);
                order.shuffle(&mut rng);
            }
        }
    }

    #[test]
    fn conflicting_votes_come_before_and_after_their_vote_and_decide_by_the_rule() {
        let config = |rule| GeneratorConfig { conflict_ratio: 0.2, revote_rule: rule, ..config(12) };
        let (generator, messages) = stream(config(RevoteRule::First), 20_000);
        let position = |kind: fn(&MessageKind) -> Option<u32>| {
            let mut at = std::collections::HashMap::new();
            for (i, m) in messages.iter().enumerate() {
                if let Some(vote) = kind(&m.kind) {
                    at.entry(vote).or_insert(i);
                }
            }
            at
        };
        let originals = position(|k| match k {
            MessageKind::Original { vote } => Some(*vote),
            _ => None,
        });
        let conflicting = position(|k| match k {
            MessageKind::Conflicting { vote, .. } => Some(*vote),
            _ => None,
        });
        let before = conflicting.iter().filter(|(vote, at)| originals.get(vote).is_some_and(|o| o > at)).count();
        let after = conflicting.iter().filter(|(vote, at)| originals.get(vote).is_some_and(|o| o < at)).count();
        assert!(before > 1_000 && after > 1_000, "before {before}, after {after}");
        // Same messages, the other rule: the same votes, other winners.
        let (other, _) = stream(config(RevoteRule::Last), 20_000);
        let (first, last) = (generator.expected(&tally(&messages), "q"), other.expected(&tally(&messages), "q"));
        assert_eq!(first.total, last.total);
        assert_ne!(first.laws, last.laws);
    }

    #[test]
    fn only_confirmed_messages_are_expected() {
        let config = GeneratorConfig { conflict_ratio: 0.1, ..config(4) };
        let (generator, messages) = stream(config, 5_000);
        // Every other message "never confirmed": the totals still match the counting rule over
        // what was confirmed, revotes and conflicting votes of unsent originals included.
        let sent: Vec<&Message> = messages.iter().step_by(2).collect();
        let mut tally = Tally::default();
        sent.iter().for_each(|m| tally.record(m));
        let expected = generator.expected(&tally, "q");
        let (_, counted) = count(RevoteRule::First, &sent);
        assert_eq!(counted.laws, expected.laws);
        assert_eq!(counted.duplicates, expected.duplicates_sent);
        assert_eq!(expected.messages_sent, sent.len() as u64);
    }

    #[test]
    fn same_seed_same_stream_other_seed_other_stream() {
        let stamp = Stamp::now();
        let bodies = |seed| {
            let (_, messages) = stream(config(seed), 2_000);
            messages.iter().map(|m| (m.kind, m.body.len(), m.kind.vote().map(|_| m.render(&stamp)))).collect::<Vec<_>>()
        };
        assert_eq!(bodies(7), bodies(7));
        assert_ne!(bodies(7), bodies(8));
    }

    #[test]
    fn runs_with_other_prefixes_share_no_vote_hash() {
        let hashes = |prefix: &str| {
            let (_, messages) = stream(GeneratorConfig { law_prefix: prefix.to_owned(), ..config(5) }, 2_000);
            let stamp = Stamp::now();
            messages.iter().filter_map(|m| validate(&m.render(&stamp))).map(|v| v.vote_hash).collect::<Vec<_>>()
        };
        let a: std::collections::HashSet<_> = hashes("law-aaaaaa-").into_iter().collect();
        assert!(hashes("law-bbbbbb-").iter().all(|h| !a.contains(h)));
    }

    #[test]
    fn saturated_laws_turn_into_duplicates_and_stay_exact() {
        let config = GeneratorConfig {
            laws: 2,
            citizens: 3,
            duplicate_ratio: 0.0,
            invalid_ratio: 0.0,
            envelope_ratio: 0.0,
            ..config(6)
        };
        let (generator, messages) = stream(config, 50);
        let expected = generator.expected(&tally(&messages), "q");
        assert_eq!(expected.total, 6);
        let (_, counted) = count(RevoteRule::First, &messages.iter().collect::<Vec<_>>());
        assert_eq!(counted.laws, expected.laws);
    }

    #[test]
    fn zipf_skews_law_popularity_and_zero_is_uniform() {
        let law_counts = |zipf: f64| {
            let config = GeneratorConfig { zipf, duplicate_ratio: 0.0, invalid_ratio: 0.0, ..config(9) };
            let (generator, _) = stream(config, 20_000);
            let mut counts = vec![0u32; 20];
            generator.votes().iter().for_each(|v| counts[v.law as usize] += 1);
            counts
        };
        let skewed = law_counts(1.5);
        assert!(skewed[0] > 5 * skewed[19], "{skewed:?}");
        let uniform = law_counts(0.0);
        assert!(uniform.iter().all(|&c| (800..1200).contains(&c)), "{uniform:?}");
    }

    #[test]
    fn stamps_are_rfc3339_with_microseconds() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_763_121_600_123_456_789).unwrap();
        let stamp = Stamp::at(at);
        assert_eq!(stamp.as_str(), "2025-11-14T12:00:00.123456Z");
        let parsed = OffsetDateTime::parse(stamp.as_str(), &Rfc3339).unwrap();
        assert_eq!(parsed.unix_timestamp_nanos(), 1_763_121_600_123_456_000);
    }

    #[test]
    fn rendering_sets_every_timestamp_slot() {
        let config = GeneratorConfig { envelope_ratio: 1.0, invalid_ratio: 0.0, ..config(10) };
        let (_, messages) = stream(config, 10);
        let stamp = Stamp::at(OffsetDateTime::UNIX_EPOCH);
        let body = String::from_utf8(messages[0].render(&stamp)).unwrap();
        assert_eq!(body.matches("1970-01-01T00:00:00.000000Z").count(), 2, "{body}");
        let value: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(value["event_type"], "vote.cast");
        assert_eq!(value["event_version"], 1);
        assert_eq!(value["producer"], PRODUCER);
        assert!(uuid::Uuid::parse_str(value["event_id"].as_str().unwrap()).is_ok());
        assert_eq!(value["data"]["timestamp"], "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn long_citizen_ids_sit_exactly_at_the_limit() {
        let id = citizen_id(42, true);
        assert_eq!(id.len(), MAX_FIELD_BYTES);
        assert!(id.chars().count() < MAX_FIELD_BYTES);
        assert_eq!(citizen_id(42, false), "citizen-42");
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = [
            GeneratorConfig { law_prefix: String::new(), ..config(0) },
            GeneratorConfig { law_prefix: "law 1".to_owned(), ..config(0) },
            GeneratorConfig { law_prefix: "x".repeat(MAX_LAW_PREFIX_BYTES + 1), ..config(0) },
            GeneratorConfig { laws: 0, ..config(0) },
            GeneratorConfig { laws: 100_000, ..config(0) },
            GeneratorConfig { citizens: 0, ..config(0) },
            GeneratorConfig { zipf: -1.0, ..config(0) },
            GeneratorConfig { duplicate_ratio: 0.7, invalid_ratio: 0.4, ..config(0) },
            GeneratorConfig { duplicate_ratio: 0.5, invalid_ratio: 0.3, conflict_ratio: 0.3, ..config(0) },
            GeneratorConfig { conflict_ratio: -0.1, ..config(0) },
            GeneratorConfig { envelope_ratio: 1.5, ..config(0) },
        ];
        for config in bad {
            assert!(matches!(Generator::new(config.clone()), Err(Error::Config(_))), "{config:?}");
        }
        assert_eq!(law_id("law-x-", 0), "law-x-00001");
    }
}
