//! The anonymous cast-vote record of a poll (no I/O): its options and every distinct ranking
//! with the number of ballots that carry it, so that neither voters nor the order of their
//! ballots appear. Written by `GET /polls/{uuid}/ballots` and read by `poll-service tabulate`,
//! in two formats:
//!
//! - ABIF, the Aggregated Ballot Information Format (electorama/abif): `{key: value}` metadata
//!   lines, `=token:[Name]` options, ballot lines `count: a>b>c` (`count:` alone is a blank
//!   ballot), `#` comments;
//! - CSV (RFC 4180): a header `count,<option>,...` and one row per ranking giving each
//!   option's rank (1 = most preferred) or nothing.
//!
//! Both carry every option, so a count of the file sees the options nobody ranked.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::tally::OptionIndex;

mod abif;
mod csv;

pub use abif::parse as parse_abif;
pub use csv::parse as parse_csv;

/// Most options a record may name (a poll's limit).
pub const MAX_OPTIONS: usize = crate::domain::MAX_OPTIONS;

/// Most ballots a record may hold: the count's fixed-point sums stay far inside 64 bits.
pub const MAX_BALLOTS: u64 = 1_000_000_000;

/// Adds `count` ballots of line `line` to `total`, refusing a record past [`MAX_BALLOTS`].
pub(crate) fn add_ballots(total: &mut u64, count: u64, line: usize) -> Result<(), CvrError> {
    match total.checked_add(count).filter(|t| *t <= MAX_BALLOTS) {
        Some(t) => {
            *total = t;
            Ok(())
        }
        None => Err(CvrError::at(line, format!("more than {MAX_BALLOTS} ballots"))),
    }
}

/// A file that cannot be read as a cast-vote record: where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct CvrError {
    /// 1-based line of the file (0: the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl CvrError {
    pub(crate) fn at(line: usize, message: impl Into<String>) -> Self {
        Self { line, message: message.into() }
    }
}

/// How the ballots of a record are to be counted, when the record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// A single-choice poll: plurality.
    Plurality,
    /// A ranked poll for this many seats (1: instant runoff; more: STV).
    Ranked {
        /// Seats to fill.
        seats: usize,
    },
}

/// Options and aggregated rankings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CastVoteRecord {
    /// A title, when the record has one.
    pub title: Option<String>,
    /// How to count it, when the record says (ABIF metadata `method` and `seats`).
    pub counting: Option<Counting>,
    /// The options, in order.
    pub options: Vec<String>,
    /// Each distinct ranking (option indexes, most preferred first; empty: a blank ballot) and
    /// its ballots; most ballots first, then by ranking.
    pub rankings: Vec<(Vec<OptionIndex>, u64)>,
}

impl CastVoteRecord {
    /// The record of `ballots` (one ranking each) over `options`.
    pub fn new<B: AsRef<[OptionIndex]>>(
        title: Option<String>,
        counting: Option<Counting>,
        options: Vec<String>,
        ballots: impl IntoIterator<Item = (B, u64)>,
    ) -> Self {
        let mut grouped: BTreeMap<Vec<OptionIndex>, u64> = BTreeMap::new();
        for (ranking, n) in ballots {
            *grouped.entry(ranking.as_ref().to_vec()).or_default() += n;
        }
        let mut rankings: Vec<(Vec<OptionIndex>, u64)> = grouped.into_iter().filter(|(_, n)| *n > 0).collect();
        rankings.sort_by(|(a, n), (b, m)| m.cmp(n).then_with(|| a.cmp(b)));
        Self { title, counting, options, rankings }
    }

    /// Ballots in the record.
    pub fn ballots(&self) -> u64 {
        self.rankings.iter().map(|(_, n)| n).sum()
    }

    /// The record as ABIF.
    pub fn to_abif(&self) -> String {
        let mut out = String::from("{version: \"0.1\"}\n");
        if let Some(title) = &self.title {
            let _ = writeln!(out, "{{title: {}}}", json_string(title));
        }
        match self.counting {
            Some(Counting::Plurality) => out.push_str("{method: \"plurality\"}\n"),
            Some(Counting::Ranked { seats }) => {
                let _ = writeln!(out, "{{method: \"ranked\"}}\n{{seats: {seats}}}");
            }
            None => {}
        }
        let tokens = abif::tokens(&self.options);
        for (token, name) in tokens.iter().zip(&self.options) {
            let _ = writeln!(out, "={token}:{}", abif::quoted_name(name));
        }
        for (ranking, n) in &self.rankings {
            let line: Vec<&str> = ranking.iter().map(|&o| tokens[usize::from(o)].as_str()).collect();
            let _ = writeln!(out, "{n}:{}", line.join(">"));
        }
        out
    }

    /// The record as CSV.
    pub fn to_csv(&self) -> String {
        csv::write(self)
    }
}

/// `text` as a JSON string literal (ABIF metadata values are).
fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests;
