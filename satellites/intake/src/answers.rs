//! The shapes of the API's JSON answers, for the OpenAPI document. The handlers build their
//! answers with `json!`; these types only describe them (the kit's test client checks every
//! answer the tests get against the document, so a change on either side shows).

#![allow(dead_code)] // described, never built

use utoipa::ToSchema;

/// A vote the broker confirmed: it will be counted, once.
#[derive(ToSchema)]
pub struct VoteAccepted {
    /// The receipt: the vote's `vote_hash`, with which its citizen checks at the results
    /// service that it was counted. The same vote always gets the same receipt.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    receipt: String,
    /// The law voted on.
    law_id: String,
}

/// The citizen's other choice on this law is already counted: a vote cannot be changed.
#[derive(ToSchema)]
pub struct VoteConflict {
    /// What went wrong.
    error: String,
    /// The law voted on.
    law_id: String,
}

/// The answer to a gateway's votes: each vote answered on its own, in the order sent.
#[derive(ToSchema)]
pub struct BatchAnswer {
    /// How many of the votes were accepted.
    accepted: u64,
    /// One answer per vote sent.
    votes: Vec<BatchVoteAnswer>,
}

/// What became of one vote of a batch.
#[derive(ToSchema)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum BatchVoteAnswer {
    /// The broker confirmed the vote: it will be counted, once.
    Accepted {
        /// The vote's receipt, as `POST /votes` would have answered it to its citizen.
        #[schema(pattern = "^[0-9a-f]{64}$")]
        receipt: String,
        /// The law voted on.
        law_id: String,
    },
    /// The vote is not acceptable (its shape, an empty or too long field, a bad choice).
    Refused {
        /// Why, naming the vote (`votes[3]: ...`) and never quoting its values.
        error: String,
    },
    /// The citizen's other choice on this law is already counted.
    Conflict {
        /// The law voted on.
        law_id: String,
        /// What went wrong.
        error: String,
    },
    /// The broker did not confirm the vote in time: it is not recorded; send it again.
    Unavailable {
        /// The law voted on.
        law_id: String,
        /// What went wrong.
        error: String,
    },
}
