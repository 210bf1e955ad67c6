//! Meetings, agenda items and elections as the APIs show them, and
//! the payloads of the events the two services exchange.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::{Object, ObjectBuilder, Type};
use uuid::Uuid;

/// Event: a meeting was created (MeetingService).
pub const MEETING_CREATED: &str = "meeting.created";
/// Event: an election agenda item was added (MeetingService).
pub const ELECTION_CREATE: &str = "agenda.election.create";
/// Event: an election agenda item was started (MeetingService).
pub const ELECTION_START: &str = "agenda.election.start";
/// Event: an election agenda item was cancelled by a manager (MeetingService).
pub const ELECTION_CANCEL: &str = "agenda.election.cancel";
/// Event: ElectionService asks the VotingService for a poll.
pub const VOTING_CREATE: &str = "voting.create";
/// Event: the VotingService closed a poll.
pub const VOTING_COMPLETED: &str = "voting.completed";
/// Event: the VotingService refused a `voting.create` (invalid, or its poll id is another
/// poll's).
pub const VOTING_REFUSED: &str = "voting.refused";

/// A meeting with its agenda and managers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Meeting {
    /// Meeting id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// User who created it.
    pub created_by: String,
    /// Agenda items in order.
    pub agenda: Vec<AgendaItem>,
    /// Users holding the manager role (granted asynchronously from `meeting.created`).
    pub managers: Vec<String>,
}

/// One agenda item (only elections for now).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AgendaItem {
    /// Agenda item id; also the election's id in the ElectionService.
    pub id: Uuid,
    /// Meeting it belongs to.
    pub meeting_id: Uuid,
    /// `election`.
    #[schema(schema_with = agenda_kind)]
    pub kind: String,
    /// Title.
    pub title: String,
    /// `created`, `started` or `cancelled`.
    #[schema(schema_with = agenda_status)]
    pub status: String,
}

/// The schema of [`AgendaItem::kind`]: the kinds the table admits.
fn agenda_kind() -> Object {
    text_enum("The kind of item: only elections for now", &["election"])
}

/// The schema of [`AgendaItem::status`]: the statuses the table admits.
fn agenda_status() -> Object {
    text_enum(
        "`created` (nominations open), `started` (voting started) or `cancelled` by a manager",
        &["created", "started", "cancelled"],
    )
}

fn text_enum(description: &str, values: &[&str]) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// Where an election stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ElectionStatus {
    /// Created; nominations open.
    Nominating,
    /// Started; nominations closed, the poll is open.
    Voting,
    /// The poll was closed.
    Finalized,
    /// Started with fewer than two nominees (no poll), or cancelled by a manager.
    Cancelled,
    /// Its poll was refused, or the poll that completed is not the one it asked for; the
    /// reason says which.
    Failed,
}

impl ElectionStatus {
    /// Parses the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "nominating" => Some(Self::Nominating),
            "voting" => Some(Self::Voting),
            "finalized" => Some(Self::Finalized),
            "cancelled" => Some(Self::Cancelled),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// An election as the ElectionService shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Election {
    /// The agenda item it belongs to (its id).
    pub agenda_item_id: Uuid,
    /// Meeting.
    pub meeting_id: Uuid,
    /// Title.
    pub title: String,
    /// Where it stands.
    pub status: ElectionStatus,
    /// Seats to fill: 1, or more (the poll is then ranked and counted by STV).
    #[schema(minimum = 1, maximum = 100)]
    pub seats: u32,
    /// Nominees in nomination order (the poll's options).
    pub nominees: Vec<String>,
    /// The VotingService poll, once voting started.
    #[schema(required = true)] // `null` until then, never absent
    pub poll_uuid: Option<Uuid>,
    /// Why it was cancelled or failed.
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The poll's outcome, once finalized (`null` before).
    #[schema(required = true)]
    pub results: Option<ElectionResults>,
}

/// The outcome of an election's poll, as `voting.completed` carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ElectionResults {
    /// The winner of a one-seat election; `null` when nominees tied, and for several seats.
    #[schema(required = true)]
    pub winner: Option<String>,
    /// Those elected, in the order they were elected (absent from older results: the winner).
    #[serde(default)]
    #[schema(required = true)] // read with a default, always written
    pub elected: Vec<String>,
    /// The nominees that tied for the win; empty when there is a winner.
    #[serde(default)]
    #[schema(required = true)]
    pub tied: Vec<String>,
    /// Ballots cast.
    pub ballots: u64,
    /// Each nominee's votes in the deciding round, in nomination order.
    pub tallies: Vec<OptionVotes>,
}

/// Votes of one nominee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OptionVotes {
    /// The nominee (the poll's option).
    pub option: String,
    /// Votes: whole, or with up to 9 decimals where STV transferred part of a ballot.
    #[schema(value_type = f64, minimum = 0)]
    pub votes: serde_json::Number,
}

/// `meeting.created` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingCreated {
    /// Meeting id.
    pub meeting_id: Uuid,
    /// Title.
    pub title: String,
    /// Creator, who becomes manager.
    pub created_by: String,
}

/// `agenda.election.create` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionCreate {
    /// Meeting id.
    pub meeting_id: Uuid,
    /// Agenda item id (the election's id).
    pub agenda_item_id: Uuid,
    /// Title.
    pub title: String,
    /// Seats to fill (absent: 1).
    #[serde(default = "one_seat")]
    pub seats: u32,
}

fn one_seat() -> u32 {
    1
}

/// `agenda.election.start` and `agenda.election.cancel` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElectionStart {
    /// Meeting id.
    pub meeting_id: Uuid,
    /// Agenda item id (the election's id).
    pub agenda_item_id: Uuid,
}

/// The part of `voting.completed` data the ElectionService reads: the poll, checked against
/// the poll the election asked for before it counts, and its results (absent from a
/// VotingService older than results: the election is finalized without them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VotingCompleted {
    /// The poll's id.
    pub uuid: Uuid,
    /// The poll's meeting.
    pub meeting_id: String,
    /// The poll's type.
    #[serde(rename = "pollType")]
    pub poll_type: String,
    /// The poll's options, in order.
    pub options: Vec<String>,
    /// The poll's results.
    #[serde(default)]
    pub results: Option<ElectionResults>,
}

impl VotingCompleted {
    /// Why this completed poll is not the one `election` asked for ([`voting_create`]), if it
    /// is not.
    pub fn mismatch(&self, election: &Election) -> Option<String> {
        let uuid = self.uuid;
        if self.meeting_id != election.meeting_id.to_string() {
            Some(format!("poll {uuid} belongs to meeting {}, not to the election's", self.meeting_id))
        } else if self.poll_type != poll_type(election) {
            Some(format!("poll {uuid} is of type '{}', not '{}'", self.poll_type, poll_type(election)))
        } else if self.options != election.nominees {
            Some(format!("poll {uuid} has the options {:?}, not the nominees {:?}", self.options, election.nominees))
        } else {
            None
        }
    }
}

/// `voting.refused` data: the poll id of the refused `voting.create` and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VotingRefused {
    /// The poll id the `voting.create` asked for.
    pub uuid: Uuid,
    /// Why the VotingService refused it.
    pub reason: String,
}

/// Type of the poll `election` asks for: single choice for one seat, ranked (STV) for several.
fn poll_type(election: &Election) -> &'static str {
    if election.seats > 1 { "ranked" } else { "single" }
}

/// `voting.create` data: the VotingService's `{"vote": {...}}` with the poll id chosen here.
/// One seat: a single-choice poll; several: a ranked poll for that many seats (STV).
pub fn voting_create(poll_uuid: Uuid, election: &Election) -> Value {
    let mut vote = serde_json::json!({
        "uuid": poll_uuid,
        "meeting_id": election.meeting_id.to_string(),
        "title": election.title,
        "pollType": poll_type(election),
        "options": election.nominees,
    });
    if election.seats > 1 {
        vote["seats"] = election.seats.into();
    }
    serde_json::json!({ "vote": vote })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn election(seats: u32) -> Election {
        Election {
            agenda_item_id: Uuid::new_v4(),
            meeting_id: Uuid::new_v4(),
            title: "Board".to_owned(),
            status: ElectionStatus::Nominating,
            seats,
            nominees: vec!["A".to_owned(), "B".to_owned(), "C".to_owned()],
            poll_uuid: None,
            reason: None,
            results: None,
        }
    }

    #[test]
    fn voting_create_matches_the_voting_service_shape() {
        let (poll, e) = (Uuid::new_v4(), election(1));
        let data = voting_create(poll, &e);
        assert_eq!(data["vote"]["uuid"], poll.to_string());
        assert_eq!(data["vote"]["meeting_id"], e.meeting_id.to_string());
        assert_eq!(
            (data["vote"]["pollType"].as_str(), data["vote"]["title"].as_str()),
            (Some("single"), Some("Board"))
        );
        assert_eq!(data["vote"]["options"], json!(["A", "B", "C"]));
        assert_eq!(data["vote"].get("seats"), None);
        let data = voting_create(poll, &election(2));
        assert_eq!((data["vote"]["pollType"].as_str(), data["vote"]["seats"].as_u64()), (Some("ranked"), Some(2)));
    }

    #[test]
    fn results_read_fractional_votes_and_older_results_without_elected() {
        let stv: ElectionResults = serde_json::from_value(json!({
            "winner": null, "elected": ["A", "C"], "tied": [], "ballots": 7,
            "tallies": [{"option": "A", "votes": 2.000000004}, {"option": "B", "votes": 0}]
        }))
        .unwrap();
        assert_eq!(stv.tallies[0].votes.to_string(), "2.000000004");
        let old: ElectionResults = serde_json::from_value(json!({"winner": "A", "ballots": 1, "tallies": []})).unwrap();
        assert!(old.elected.is_empty() && old.tied.is_empty());
    }
}
