//! The shapes of the API's JSON answers, for the OpenAPI document. The handlers build their
//! answers with `json!`; these types only describe them (the kit's test client checks every
//! answer the tests get against the document, so a change on either side shows).

#![allow(dead_code)] // described, never built

use utoipa::ToSchema;

use crate::snapshot::{LawView, RecountRun};

/// The grand totals every answer about all laws starts with.
#[derive(ToSchema)]
pub struct Totals {
    /// When the service last read the totals, RFC 3339: how fresh the answer is.
    #[schema(format = DateTime)]
    as_of: String,
    /// Votes on every law.
    #[schema(minimum = 0)]
    total_votes: i64,
    /// Yes votes on every law.
    #[schema(minimum = 0)]
    total_oui: i64,
    /// No votes on every law.
    #[schema(minimum = 0)]
    total_non: i64,
    /// Laws in the totals.
    laws_count: u64,
}

/// A page of `GET /api/results`: the grand totals and the laws with the most votes first.
#[derive(ToSchema)]
pub struct ResultsPage {
    #[serde(flatten)]
    totals: Totals,
    /// Laws whose id starts with `q` (every law without `q`).
    matching: u64,
    /// The page size used.
    #[schema(minimum = 1, maximum = 1000)]
    limit: u64,
    /// The offset used.
    offset: u64,
    /// At most `limit` laws, most votes first, then by law id.
    laws: Vec<LawView<'static>>,
    /// The latest recount of the stored totals; `null` before the first.
    #[schema(required = true)]
    last_recount: Option<RecountRun>,
}

/// One law's totals (`GET /api/results/{law_id}`).
#[derive(ToSchema)]
pub struct LawTotals {
    #[serde(flatten)]
    law: LawView<'static>,
    /// When the service last read the totals, RFC 3339.
    #[schema(format = DateTime)]
    as_of: String,
}

/// No vote was recorded on the law (yet).
#[derive(ToSchema)]
pub struct LawNotFound {
    /// What went wrong.
    error: String,
    /// The law asked for.
    law_id: String,
}

/// Whether a vote was counted, by its receipt (`vote_hash`); never the choice or the citizen.
/// Times are to the minute, so a receipt cannot be matched to one change of the live totals.
#[derive(ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Receipt {
    /// The vote is counted.
    Counted {
        /// The receipt asked for.
        vote_hash: String,
        /// The law voted on.
        law_id: String,
        /// When it was counted, to the minute (RFC 3339).
        #[schema(format = DateTime)]
        counted_at: String,
    },
    /// The vote arrived but was not counted: it was a duplicate.
    Duplicate {
        /// The receipt asked for.
        vote_hash: String,
        /// The law voted on.
        law_id: String,
        /// Why it was not counted.
        reason: DuplicateReason,
        /// The reason in a sentence.
        detail: String,
        /// When it arrived, to the minute (RFC 3339).
        #[schema(format = DateTime)]
        received_at: String,
    },
}

/// Why a vote was not counted.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DuplicateReason {
    /// The same vote (the same receipt) arrived again; it counts once.
    VoteHash,
    /// The citizen had already voted on this law; only the first vote counts.
    CitizenLaw,
}

/// No vote with this receipt has arrived (or not yet been recorded).
#[derive(ToSchema)]
pub struct UnknownReceipt {
    /// The receipt asked for.
    vote_hash: String,
    #[schema(inline)]
    status: Unknown,
}

/// `unknown`.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unknown {
    /// Never seen.
    Unknown,
}

/// The data of an `update` event of `GET /api/stream`: the laws that changed in one read,
/// the grand totals after it and the latest recount.
#[derive(ToSchema)]
pub struct StreamUpdate {
    #[serde(flatten)]
    totals: Totals,
    /// The laws that changed, at most 2000 (more send `resync` instead).
    laws: Vec<LawView<'static>>,
    /// The latest recount; `null` before the first.
    #[schema(required = true)]
    last_recount: Option<RecountRun>,
}
