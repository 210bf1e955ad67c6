//! Counting a closed poll (no I/O): [`plurality`] for `single` polls, [`irv`] (instant runoff)
//! for `ranked` ones. Options are indexes into the poll's option list; a ballot lists option
//! indexes, most preferred first.
//!
//! Both counts are deterministic: neither the order of the ballots nor the order of the options
//! changes the outcome. Ties are not broken by chance or by option order; the rules are in
//! `satellites/README.md` (section "Counting and tie rules").

pub mod irv;
pub mod plurality;
pub mod stv;

/// An option: its index in the poll's option list.
pub type OptionIndex = u16;

/// Who won, or which options tied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// One option won.
    Winner(OptionIndex),
    /// These options (at least two unless the poll had one option, in option order) tied
    /// for the win.
    Tie(Vec<OptionIndex>),
}

/// One counting round of an instant-runoff count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Round {
    /// Votes of each option in this round, by option index (eliminated options have 0).
    pub tallies: Vec<u64>,
    /// Options still in the count at this round, in option order.
    pub continuing: Vec<OptionIndex>,
    /// Ballots that rank no continuing option.
    pub exhausted: u64,
    /// Options eliminated at the end of this round (none in the last round).
    pub eliminated: Vec<OptionIndex>,
}

/// The result of a count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Winner or tie.
    pub decision: Decision,
    /// Votes of each option in the deciding round, by option index.
    pub tallies: Vec<u64>,
    /// Ballots counted.
    pub ballots: u64,
    /// Ballots that counted for no option in the deciding round.
    pub exhausted: u64,
    /// Every round, first to last (empty for a plurality count).
    pub rounds: Vec<Round>,
}
