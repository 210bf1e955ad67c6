//! Ballot validation (no I/O), the same for `POST /polls/{uuid}/ballots` and `poll.ballot.cast`.
//! A ballot is read in two steps: its shape ([`BallotRequest`]), then its names against the
//! poll's options ([`BallotRequest::ranking_on`]), inside the transaction that stores it.

use serde::Serialize;
use serde_json::Value;
use unicode_normalization::UnicodeNormalization;
use uuid::Uuid;
use vote_mq::Envelope;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::input::{Object, json_object, text_field};
use vote_satellite_kit::names::{self, MAX_NAME_CHARS};

use crate::Error;
use crate::domain::{MAX_OPTIONS, Poll, PollType};

/// What the voter marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Marks {
    /// `choice`: one option (single polls); `null`: a blank ballot.
    Choice(Option<String>),
    /// `ranking`: options, most preferred first (ranked polls); need not rank every option.
    Ranking(Vec<String>),
}

/// A ballot as sent, before its names are checked against the poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BallotRequest {
    /// Who votes; one ballot per voter per poll.
    pub voter_id: String,
    /// The choice or the ranking.
    pub marks: Marks,
}

impl BallotRequest {
    /// From the HTTP body `{"voter_id"?, "choice" | "ranking"}` sent by `caller`: the voter is
    /// the caller, and a `voter_id` in the body must name them (403 otherwise).
    pub fn from_request(body: &[u8], caller: &Caller) -> Result<Self, Error> {
        let object = json_object(body)?;
        let voter_id = caller.acting_as("voter_id", named_voter(&object)?)?;
        Self::from_object(&object, voter_id)
    }

    /// From a `poll.ballot.cast` event, data `{"poll_uuid", "voter_id"?, "choice" | "ranking"}`:
    /// the poll and the ballot. The voter is the envelope's `subject`, whom the producer
    /// authenticated; an event without one is refused, and a `voter_id` must name them.
    pub fn from_event(event: &Envelope) -> Result<(Uuid, Self), Error> {
        let Some(object) = event.data.as_object() else { return Err(invalid("ballot data must be a JSON object")) };
        let Some(subject) = event.subject.as_deref() else {
            return Err(invalid("a ballot event must carry its authenticated voter in the envelope's 'subject'"));
        };
        if named_voter(object)?.is_some_and(|named| named != subject) {
            return Err(Error::Forbidden("'voter_id' must be the envelope's authenticated 'subject'".to_owned()));
        }
        let poll_uuid = match object.get("poll_uuid") {
            None | Some(Value::Null) => return Err(invalid("missing 'poll_uuid'")),
            Some(Value::String(s)) => Uuid::parse_str(s).map_err(|_| invalid("'poll_uuid' must be a UUID"))?,
            Some(_) => return Err(invalid("'poll_uuid' must be a UUID")),
        };
        Ok((poll_uuid, Self::from_object(object, subject.to_owned())?))
    }

    fn from_object(object: &Object, voter_id: String) -> Result<Self, Error> {
        let marks = match (object.get("choice"), object.get("ranking")) {
            (Some(_), Some(_)) => return Err(invalid("send either 'choice' or 'ranking', not both")),
            (Some(Value::Null), None) => Marks::Choice(None),
            (Some(_), None) => Marks::Choice(Some(names::name("choice", &text_field(object, "choice")?)?)),
            (None, Some(ranking)) => Marks::Ranking(ranking_names(ranking)?),
            (None, None) => return Err(invalid("missing 'choice' (single poll) or 'ranking' (ranked poll)")),
        };
        Ok(Self { voter_id, marks })
    }

    /// The marks as option positions on `poll`, most preferred first: `choice` on a single
    /// poll, `ranking` on a ranked one, every name an option, none twice.
    pub fn ranking_on(&self, poll: &Poll) -> Result<Vec<i16>, Error> {
        let names: &[String] = match (&self.marks, poll.poll_type) {
            (Marks::Choice(choice), PollType::Single) => choice.as_slice(),
            (Marks::Ranking(ranking), PollType::Ranked) => ranking,
            (Marks::Ranking(_), PollType::Single) => {
                return Err(invalid("this poll is single choice: send 'choice', not 'ranking'"));
            }
            (Marks::Choice(_), PollType::Ranked) => {
                return Err(invalid("this poll is ranked: send 'ranking', not 'choice'"));
            }
        };
        let mut positions: Vec<i16> = Vec::with_capacity(names.len());
        for name in names {
            // Names were normalized when read; options stored before that may not be.
            let Some(position) = poll.options.iter().position(|o| o == name || o.nfc().eq(name.chars())) else {
                return Err(match names::clash(name, &poll.options) {
                    Some(option) => invalid(format!(
                        "'{name}' is not an option of this poll: it is confusable with the option '{option}'"
                    )),
                    None => invalid(format!("'{name}' is not an option of this poll")),
                });
            };
            // At most MAX_OPTIONS options, so the position fits.
            let position = i16::try_from(position).unwrap_or(i16::MAX);
            if positions.contains(&position) {
                return Err(invalid(format!("'{name}' is ranked twice")));
            }
            positions.push(position);
        }
        Ok(positions)
    }
}

/// The body's `voter_id`, when it names one.
fn named_voter(object: &Object) -> Result<Option<String>, Error> {
    match object.get("voter_id") {
        None | Some(Value::Null) => Ok(None),
        Some(_) => text_field(object, "voter_id").map(Some),
    }
}

fn ranking_names(ranking: &Value) -> Result<Vec<String>, Error> {
    let shape = || {
        invalid(format!("'ranking' must be an array of option names (strings of at most {MAX_NAME_CHARS} characters)"))
    };
    let Value::Array(items) = ranking else { return Err(shape()) };
    if items.len() > MAX_OPTIONS {
        return Err(invalid(format!("'ranking' may name at most {MAX_OPTIONS} options")));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::String(s) if !s.trim().is_empty() && s.chars().count() <= MAX_NAME_CHARS => {
                names::name(&format!("ranking[{i}]"), s)
            }
            _ => Err(shape()),
        })
        .collect()
}

/// The answer to a ballot: its id, and what was recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Receipt {
    /// The ballot's id (the same for a repeated identical ballot).
    pub ballot_id: Uuid,
    /// The poll.
    pub poll_uuid: Uuid,
    /// The voter.
    pub voter_id: String,
    /// The choice, on a single poll.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    /// The ranking, on a ranked poll.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ranking: Option<Vec<String>>,
}

impl Receipt {
    /// The receipt of ballot `ballot_id` with option positions `ranking` on `poll`.
    pub fn new(ballot_id: Uuid, poll: &Poll, voter_id: &str, ranking: &[i16]) -> Self {
        let names: Vec<String> = ranking
            .iter()
            .filter_map(|&p| usize::try_from(p).ok().and_then(|p| poll.options.get(p)).cloned())
            .collect();
        let (choice, ranking) = match poll.poll_type {
            PollType::Single => (names.into_iter().next(), None),
            PollType::Ranked => (None, Some(names)),
        };
        Self { ballot_id, poll_uuid: poll.uuid, voter_id: voter_id.to_owned(), choice, ranking }
    }
}

fn invalid(message: impl Into<String>) -> Error {
    Error::Invalid(message.into())
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vote_satellite_kit::testing::invalid;

    use super::*;
    use crate::domain::PollStatus;

    fn poll(poll_type: PollType) -> Poll {
        Poll {
            uuid: Uuid::nil(),
            meeting_id: "m".to_owned(),
            title: None,
            poll_type,
            options: vec!["Alice".to_owned(), "Bob".to_owned(), "Carol".to_owned()],
            seats: 1,
            status: PollStatus::Open,
        }
    }

    /// The caller of the requests: voter `v`.
    fn voter() -> Caller {
        Caller::new("v".to_owned(), Default::default())
    }

    fn request(body: Value) -> Result<BallotRequest, Error> {
        BallotRequest::from_request(body.to_string().as_bytes(), &voter())
    }

    fn forbidden(result: Result<impl std::fmt::Debug, Error>) -> String {
        match result {
            Err(Error::Forbidden(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_voter_is_the_caller_and_a_named_voter_must_be_them() {
        assert_eq!(request(json!({"choice": "Bob"})).unwrap().voter_id, "v");
        assert_eq!(request(json!({"voter_id": " v ", "choice": "Bob"})).unwrap().voter_id, "v");
        assert_eq!(request(json!({"voter_id": null, "choice": "Bob"})).unwrap().voter_id, "v");
        assert_eq!(
            forbidden(request(json!({"voter_id": "w", "choice": "Bob"}))),
            "'voter_id' must be the authenticated caller"
        );
    }

    fn ballot_event(subject: Option<&str>, data: Value) -> Envelope {
        let event = Envelope::new("poll.ballot.cast", "gateway", data);
        match subject {
            Some(subject) => event.with_subject(subject),
            None => event,
        }
    }

    #[test]
    fn an_event_ballot_is_its_envelope_subject_s() {
        let id = Uuid::new_v4();
        let (_, ballot) =
            BallotRequest::from_event(&ballot_event(Some("ann"), json!({"poll_uuid": id, "choice": "A"}))).unwrap();
        assert_eq!(ballot.voter_id, "ann");
        let same = ballot_event(Some("ann"), json!({"poll_uuid": id, "voter_id": "ann", "choice": "A"}));
        assert_eq!(BallotRequest::from_event(&same).unwrap().1.voter_id, "ann");
        let other = ballot_event(Some("ann"), json!({"poll_uuid": id, "voter_id": "bob", "choice": "A"}));
        assert_eq!(
            forbidden(BallotRequest::from_event(&other)),
            "'voter_id' must be the envelope's authenticated 'subject'"
        );
        let anonymous = ballot_event(None, json!({"poll_uuid": id, "voter_id": "bob", "choice": "A"}));
        assert_eq!(
            invalid(BallotRequest::from_event(&anonymous)),
            "a ballot event must carry its authenticated voter in the envelope's 'subject'"
        );
    }

    #[test]
    fn a_choice_on_a_single_poll_and_a_partial_ranking_on_a_ranked_one() {
        let single = request(json!({"voter_id": " v ", "choice": " Bob "})).unwrap();
        assert_eq!(single.voter_id, "v");
        assert_eq!(single.ranking_on(&poll(PollType::Single)).unwrap(), [1]);
        let ranked = request(json!({"ranking": ["Carol", " Alice"]})).unwrap();
        assert_eq!(ranked.marks, Marks::Ranking(vec!["Carol".to_owned(), "Alice".to_owned()]));
        assert_eq!(ranked.ranking_on(&poll(PollType::Ranked)).unwrap(), [2, 0]);
        let full = request(json!({"ranking": ["Bob", "Carol", "Alice"]})).unwrap();
        assert_eq!(full.ranking_on(&poll(PollType::Ranked)).unwrap(), [1, 2, 0]);
    }

    #[test]
    fn an_empty_ranking_or_a_null_choice_is_a_blank_ballot() {
        let blank = request(json!({"ranking": []})).unwrap();
        assert_eq!(blank.ranking_on(&poll(PollType::Ranked)).unwrap(), Vec::<i16>::new());
        let blank = request(json!({"choice": null})).unwrap();
        assert_eq!(blank.marks, Marks::Choice(None));
        assert_eq!(blank.ranking_on(&poll(PollType::Single)).unwrap(), Vec::<i16>::new());
        assert_eq!(
            invalid(blank.ranking_on(&poll(PollType::Ranked))),
            "this poll is ranked: send 'ranking', not 'choice'"
        );
    }

    #[test]
    fn malformed_ballots_name_the_problem() {
        let cases = [
            (json!([1]), "request body must be a JSON object"),
            (json!({"voter_id": 3, "choice": "Bob"}), "'voter_id' must be a non-empty string"),
            (json!({"voter_id": "v"}), "missing 'choice' (single poll) or 'ranking' (ranked poll)"),
            (
                json!({"voter_id": "v", "choice": "Bob", "ranking": ["Bob"]}),
                "send either 'choice' or 'ranking', not both",
            ),
            (json!({"voter_id": "v", "choice": ""}), "'choice' must be a non-empty string"),
            (json!({"voter_id": "v", "choice": ["Bob"]}), "'choice' must be a non-empty string"),
            (json!({"voter_id": "v", "ranking": "Bob"}), "'ranking' must be an array of option names"),
            (json!({"voter_id": "v", "ranking": ["Bob", 2]}), "'ranking' must be an array of option names"),
            (json!({"voter_id": "v", "ranking": ["Bob", " "]}), "'ranking' must be an array of option names"),
        ];
        for (body, expected) in cases {
            let got = invalid(request(body.clone()));
            assert!(got.starts_with(expected), "{body}: {got}");
        }
        let long = vec!["x"; MAX_OPTIONS + 1];
        assert_eq!(
            invalid(request(json!({"voter_id": "v", "ranking": long}))),
            "'ranking' may name at most 100 options"
        );
        assert!(invalid(BallotRequest::from_request(b"{", &voter())).starts_with("request body is not valid JSON"));
    }

    #[test]
    fn names_must_be_options_of_the_poll_and_appear_once() {
        let ranked = poll(PollType::Ranked);
        let check = |body: Value| invalid(request(body).unwrap().ranking_on(&ranked));
        assert_eq!(check(json!({"voter_id": "v", "ranking": ["Bob", "Dave"]})), "'Dave' is not an option of this poll");
        assert_eq!(check(json!({"voter_id": "v", "ranking": ["bob"]})), "'bob' is not an option of this poll");
        assert_eq!(check(json!({"voter_id": "v", "ranking": ["Bob", "Alice", " Bob"]})), "'Bob' is ranked twice");
        assert_eq!(
            check(json!({"voter_id": "v", "choice": "Bob"})),
            "this poll is ranked: send 'ranking', not 'choice'"
        );
        let single = poll(PollType::Single);
        let ballot = request(json!({"voter_id": "v", "ranking": ["Bob"]})).unwrap();
        assert_eq!(invalid(ballot.ranking_on(&single)), "this poll is single choice: send 'choice', not 'ranking'");
        let ballot = request(json!({"voter_id": "v", "choice": "Zed"})).unwrap();
        assert_eq!(invalid(ballot.ranking_on(&single)), "'Zed' is not an option of this poll");
    }

    #[test]
    fn ballot_names_follow_the_option_rule() {
        let single = poll(PollType::Single);
        let ballot = request(json!({"choice": "\u{412}ob"})).unwrap();
        assert_eq!(
            invalid(ballot.ranking_on(&single)),
            "'\u{412}ob' is not an option of this poll: it is confusable with the option 'Bob'"
        );
        assert!(invalid(request(json!({"choice": "Bob\u{200b}"}))).starts_with("'choice' must not contain invisible"));
        assert!(
            invalid(request(json!({"ranking": ["Alice", "\u{202e}Bob"]})))
                .starts_with("'ranking[1]' must not contain invisible")
        );
        let mut accented = poll(PollType::Single);
        accented.options[0] = "Jos\u{e9}".to_owned();
        let decomposed = request(json!({"choice": "Jose\u{301}"})).unwrap();
        assert_eq!(decomposed.ranking_on(&accented).unwrap(), [0], "an NFD name is its NFC option");
        accented.options[0] = "Jose\u{301}".to_owned();
        assert_eq!(decomposed.ranking_on(&accented).unwrap(), [0], "an option stored decomposed still matches");
    }

    #[test]
    fn event_data_names_the_poll() {
        let id = Uuid::new_v4();
        let (poll_uuid, ballot) = BallotRequest::from_event(&ballot_event(
            Some("v"),
            json!({"poll_uuid": id, "voter_id": "v", "choice": "A"}),
        ))
        .unwrap();
        assert_eq!((poll_uuid, ballot.marks), (id, Marks::Choice(Some("A".to_owned()))));
        let bad = |data: Value| invalid(BallotRequest::from_event(&ballot_event(Some("v"), data)));
        assert_eq!(bad(json!("x")), "ballot data must be a JSON object");
        assert_eq!(bad(json!({"voter_id": "v", "choice": "A"})), "missing 'poll_uuid'");
        assert_eq!(bad(json!({"poll_uuid": "nope", "voter_id": "v", "choice": "A"})), "'poll_uuid' must be a UUID");
        assert_eq!(bad(json!({"poll_uuid": 7, "voter_id": "v", "choice": "A"})), "'poll_uuid' must be a UUID");
        assert_eq!(bad(json!({"poll_uuid": id})), "missing 'choice' (single poll) or 'ranking' (ranked poll)");
    }

    #[test]
    fn receipts_show_names_in_the_poll_form() {
        let id = Uuid::new_v4();
        let single = Receipt::new(id, &poll(PollType::Single), "v", &[2]);
        assert_eq!(
            serde_json::to_value(&single).unwrap(),
            json!({"ballot_id": id, "poll_uuid": Uuid::nil(), "voter_id": "v", "choice": "Carol"})
        );
        let ranked = Receipt::new(id, &poll(PollType::Ranked), "v", &[2, 0]);
        assert_eq!(ranked.ranking, Some(vec!["Carol".to_owned(), "Alice".to_owned()]));
        assert_eq!(ranked.choice, None);
    }
}
