//! Poll input validation (no I/O): the same rules for the HTTP body and the event payload.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use vote_satellite_kit::input::{MAX_TEXT_CHARS, int_field, optional_text_field, text_field};
pub use vote_satellite_kit::names::{MAX_NAME_CHARS, MAX_OPTIONS, MIN_OPTIONS};
use vote_satellite_kit::names::{check_distinct, name};

use crate::Error;

/// How votes on the poll are cast.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PollType {
    /// One choice per voter.
    Single,
    /// Voters rank the options.
    Ranked,
}

impl PollType {
    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            PollType::Single => "single",
            PollType::Ranked => "ranked",
        }
    }

    /// Parses the stored and wire name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "single" => Some(PollType::Single),
            "ranked" => Some(PollType::Ranked),
            _ => None,
        }
    }
}

/// Whether the poll still accepts votes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PollStatus {
    /// Accepting votes.
    Open,
    /// Closed; `voting.completed` was published.
    Closed,
}

/// A poll as returned by the API and carried by `voting.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Poll {
    /// The poll's id.
    pub uuid: Uuid,
    /// Meeting the poll belongs to.
    pub meeting_id: String,
    /// The question, shown on the poll's page; `null` when none was given.
    #[serde(default)]
    pub title: Option<String>,
    /// Single choice or ranked.
    #[serde(rename = "pollType")]
    pub poll_type: PollType,
    /// Options, in the order given at creation.
    pub options: Vec<String>,
    /// Seats to fill: 1, or more for a ranked poll counted by STV.
    #[serde(default = "one_seat")]
    pub seats: u32,
    /// Open or closed.
    pub status: PollStatus,
}

fn one_seat() -> u32 {
    1
}

/// A validated request to create a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPoll {
    /// Id chosen by the caller (ElectionService does, so that it knows the poll before it
    /// exists); a fresh one when absent.
    pub uuid: Option<Uuid>,
    /// Meeting the poll belongs to.
    pub meeting_id: String,
    /// The question (optional, at most 200 characters).
    pub title: Option<String>,
    /// Single choice or ranked.
    pub poll_type: PollType,
    /// At least two options, order kept.
    pub options: Vec<String>,
    /// Seats to fill (more than 1: ranked polls only, at most as many as options).
    pub seats: u32,
}

impl NewPoll {
    /// From the HTTP body `{"vote": {...}}`. The poll's id is chosen here, never by an HTTP
    /// caller: an id the platform reserved for a poll not created yet (an election's) cannot
    /// be claimed first.
    pub fn from_request(body: &Value) -> Result<Self, Error> {
        if !body.is_object() {
            return Err(invalid("request body must be a JSON object"));
        }
        let Some(vote) = body.get("vote") else { return Err(invalid("missing 'vote' in request body")) };
        if vote.get("uuid").is_some() {
            return Err(invalid("'vote.uuid' is chosen by the VotingService: leave it out"));
        }
        Self::from_vote(vote)
    }

    /// The poll id a `voting.create` event's data asks for, when it names a valid one (to
    /// answer a refused request about it).
    pub fn requested_uuid(data: &Value) -> Option<Uuid> {
        let vote = data.get("vote").unwrap_or(data);
        vote.get("uuid")?.as_str().and_then(|s| Uuid::parse_str(s).ok())
    }

    /// Why `existing` is not the poll this request asks for, if it is not.
    pub fn mismatch(&self, existing: &Poll) -> Option<String> {
        let uuid = existing.uuid;
        if existing.meeting_id != self.meeting_id {
            Some(format!("poll {uuid} exists already, for another meeting"))
        } else if existing.poll_type != self.poll_type {
            Some(format!("poll {uuid} exists already, of type '{}'", existing.poll_type.as_str()))
        } else if existing.options != self.options {
            Some(format!("poll {uuid} exists already, with other options"))
        } else {
            None
        }
    }

    /// From a `voting.create` event's data: `{"vote": {...}}` or the vote object itself.
    pub fn from_event_data(data: &Value) -> Result<Self, Error> {
        match data.get("vote") {
            Some(vote) => Self::from_vote(vote),
            None => Self::from_vote(data),
        }
    }

    /// From the vote object `{meeting_id, pollType, options[, uuid]}`.
    pub fn from_vote(vote: &Value) -> Result<Self, Error> {
        let Some(vote) = vote.as_object() else { return Err(invalid("'vote' must be a JSON object")) };
        let meeting_id = text_field(vote, "meeting_id")?;
        let poll_type = match vote.get("pollType") {
            None | Some(Value::Null) => return Err(invalid("missing 'pollType'")),
            Some(Value::String(s)) => PollType::parse(s),
            Some(_) => None,
        }
        .ok_or_else(|| invalid("invalid 'pollType': must be 'single' or 'ranked'"))?;
        let options = match vote.get("options") {
            None | Some(Value::Null) => return Err(invalid("missing 'options'")),
            Some(Value::Array(items)) => items,
            Some(_) => return Err(invalid("'options' must be an array of strings")),
        };
        if options.len() < MIN_OPTIONS {
            return Err(invalid(format!("at least {MIN_OPTIONS} options are required")));
        }
        if options.len() > MAX_OPTIONS {
            return Err(invalid(format!("at most {MAX_OPTIONS} options are allowed")));
        }
        let options = options
            .iter()
            .enumerate()
            .map(|(i, o)| match o {
                Value::String(s) => name(&format!("options[{i}]"), s),
                _ => Err(invalid(format!(
                    "each option must be a non-empty string of at most {MAX_NAME_CHARS} characters"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        check_distinct("options", &options)?;
        let uuid = match vote.get("uuid") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(Uuid::parse_str(s).map_err(|_| invalid("'uuid' must be a UUID"))?),
            Some(_) => return Err(invalid("'uuid' must be a UUID")),
        };
        let seats = match vote.get("seats") {
            None | Some(Value::Null) => 1,
            Some(_) => int_field(vote, "seats", 1, i32::try_from(options.len()).unwrap_or(i32::MAX))?,
        };
        let seats = u32::try_from(seats).unwrap_or(1);
        if seats > 1 && poll_type == PollType::Single {
            return Err(invalid("'seats' above 1 needs a ranked poll (counted by STV)"));
        }
        let title = optional_text_field(vote, "title", MAX_TEXT_CHARS)?;
        Ok(Self { uuid, meeting_id, title, poll_type, options, seats })
    }
}

/// An option name as read from a cast-vote record: without surrounding whitespace, otherwise
/// exact (names were normalized by the name rule when the poll was created).
pub fn option_name(name: &str) -> &str {
    name.trim()
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vote_satellite_kit::testing::invalid;

    use super::*;

    fn vote() -> Value {
        json!({"meeting_id": "m1", "pollType": "single", "options": ["Alice", "Bob"]})
    }

    #[test]
    fn accepts_the_seed_shape() {
        let p = NewPoll::from_request(&json!({"vote": vote()})).unwrap();
        assert_eq!(p.meeting_id, "m1");
        assert_eq!(p.poll_type, PollType::Single);
        assert_eq!(p.options, ["Alice", "Bob"]);
        assert_eq!(p.uuid, None);
        assert_eq!(p.seats, 1);
    }

    #[test]
    fn seats_need_a_ranked_poll_and_enough_options() {
        let mut v = json!({"meeting_id": "m1", "pollType": "ranked", "options": ["A", "B", "C"], "seats": 2});
        assert_eq!(NewPoll::from_vote(&v).unwrap().seats, 2);
        v["seats"] = json!(4);
        assert_eq!(invalid(NewPoll::from_vote(&v)), "'seats' must be a whole number from 1 to 3");
        v["seats"] = json!("2");
        assert_eq!(invalid(NewPoll::from_vote(&v)), "'seats' must be a whole number from 1 to 3");
        v["seats"] = json!(0);
        assert_eq!(invalid(NewPoll::from_vote(&v)), "'seats' must be a whole number from 1 to 3");
        v["seats"] = json!(2);
        v["pollType"] = json!("single");
        assert!(invalid(NewPoll::from_vote(&v)).starts_with("'seats' above 1 needs a ranked poll"));
    }

    #[test]
    fn options_are_trimmed_and_case_matters() {
        let v = json!({"meeting_id": "m1", "pollType": "single", "options": [" Alice ", "alice", "Bob"]});
        assert_eq!(NewPoll::from_vote(&v).unwrap().options, ["Alice", "alice", "Bob"]);
    }

    #[test]
    fn event_data_may_be_wrapped_or_not() {
        let wrapped = NewPoll::from_event_data(&json!({"vote": vote()})).unwrap();
        let bare = NewPoll::from_event_data(&vote()).unwrap();
        assert_eq!(wrapped, bare);
    }

    #[test]
    fn an_event_may_choose_the_uuid_an_http_caller_may_not() {
        let id = Uuid::new_v4();
        let mut v = vote();
        v["uuid"] = json!(id.to_string());
        assert_eq!(NewPoll::from_event_data(&json!({"vote": v.clone()})).unwrap().uuid, Some(id));
        assert_eq!(NewPoll::requested_uuid(&json!({"vote": v.clone()})), Some(id));
        assert_eq!(NewPoll::requested_uuid(&v), Some(id));
        assert_eq!(
            invalid(NewPoll::from_request(&json!({"vote": v.clone()}))),
            "'vote.uuid' is chosen by the VotingService: leave it out"
        );
        v["uuid"] = json!("nope");
        assert_eq!(invalid(NewPoll::from_vote(&v)), "'uuid' must be a UUID");
        assert_eq!(NewPoll::requested_uuid(&v), None);
    }

    #[test]
    fn a_poll_under_the_same_uuid_must_be_the_same_poll() {
        let asked = NewPoll::from_vote(&vote()).unwrap();
        let mut existing = Poll {
            uuid: Uuid::nil(),
            meeting_id: "m1".to_owned(),
            title: None,
            poll_type: PollType::Single,
            seats: 1,
            options: vec!["Alice".to_owned(), "Bob".to_owned()],
            status: PollStatus::Closed,
        };
        assert_eq!(asked.mismatch(&existing), None);
        existing.options = vec!["X".to_owned(), "Y".to_owned()];
        assert!(asked.mismatch(&existing).unwrap().ends_with("with other options"));
        existing.poll_type = PollType::Ranked;
        assert!(asked.mismatch(&existing).unwrap().ends_with("of type 'ranked'"));
        existing.meeting_id = "m2".to_owned();
        assert!(asked.mismatch(&existing).unwrap().ends_with("for another meeting"));
    }

    #[test]
    fn rejects_bad_input_with_a_reason() {
        let cases = [
            (json!([1]), "request body must be a JSON object"),
            (json!({}), "missing 'vote' in request body"),
            (json!({"vote": 3}), "'vote' must be a JSON object"),
            (json!({"vote": {"pollType": "single", "options": ["a", "b"]}}), "missing 'meeting_id'"),
            (json!({"vote": {"meeting_id": 7, "pollType": "single", "options": ["a", "b"]}}), "'meeting_id' must be"),
            (json!({"vote": {"meeting_id": "m", "options": ["a", "b"]}}), "missing 'pollType'"),
            (json!({"vote": {"meeting_id": "m", "pollType": "multi", "options": ["a", "b"]}}), "invalid 'pollType'"),
            (json!({"vote": {"meeting_id": "m", "pollType": "single"}}), "missing 'options'"),
            (
                json!({"vote": {"meeting_id": "m", "pollType": "single", "options": "a,b"}}),
                "'options' must be an array",
            ),
            (json!({"vote": {"meeting_id": "m", "pollType": "single", "options": ["a"]}}), "at least 2 options"),
            (json!({"vote": {"meeting_id": "m", "pollType": "single", "options": ["a", 2]}}), "each option must be"),
            (json!({"vote": {"meeting_id": "m", "pollType": "single", "options": ["a", " "]}}), "'options[1]' must be"),
            (
                json!({"vote": {"meeting_id": "m", "pollType": "single", "options": ["Bob", "Bob\u{200b}"]}}),
                "'options[1]' must not contain invisible",
            ),
            (
                json!({"vote": {"meeting_id": "m", "pollType": "single", "options": ["Bob", "\u{412}ob"]}}),
                "options must be distinguishable: 'Вob' is confusable with 'Bob'",
            ),
            (
                json!({"vote": {"meeting_id": "m", "pollType": "single", "options": ["a", "a"]}}),
                "options must be distinct: 'a' is given twice",
            ),
            (
                json!({"vote": {"meeting_id": "m", "pollType": "ranked", "options": ["b", "a", " b "]}}),
                "options must be distinct: 'b' is given twice",
            ),
        ];
        for (body, expected) in cases {
            let got = invalid(NewPoll::from_request(&body));
            assert!(got.starts_with(expected), "{body}: {got}");
        }
        let many: Vec<String> = (0..=MAX_OPTIONS).map(|i| i.to_string()).collect();
        let body = json!({"vote": {"meeting_id": "m", "pollType": "ranked", "options": many}});
        assert!(invalid(NewPoll::from_request(&body)).starts_with("at most"));
    }
}
