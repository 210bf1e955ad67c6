//! The engine's input contract as loadgen relies on it (docs/contract.md: the vote format and its
//! validation rules). Stated here again rather than imported from the engine: the reference
//! model that checks the engine must not share the engine's code, or it would share its bugs.

/// Largest body the engine accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest string field the engine accepts, in bytes.
pub const MAX_FIELD_BYTES: usize = 128;

/// A vote's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Choice {
    /// Yes.
    Oui,
    /// No.
    Non,
}

impl Choice {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Oui => "oui",
            Choice::Non => "non",
        }
    }
}

impl Choice {
    /// The other choice.
    pub fn other(self) -> Self {
        match self {
            Choice::Oui => Choice::Non,
            Choice::Non => Choice::Oui,
        }
    }
}

/// Which of a citizen's votes on a law counts (the engine's `REVOTE_RULE`): the earliest
/// `timestamp` or the latest, ties broken by `vote_hash`, `law_id`, `citizen_id`, `choice`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RevoteRule {
    /// The earliest vote counts.
    #[default]
    First,
    /// The latest vote counts.
    Last,
}
