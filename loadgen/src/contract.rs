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
