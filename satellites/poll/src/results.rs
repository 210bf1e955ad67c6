//! A closed poll's outcome as stored, served by `GET /polls/{uuid}/results` and carried by
//! `voting.completed`: the [`crate::tally`] outcome with option names instead of indexes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::{Poll, PollType};
use crate::tally::stv::{self, Fixed, StvOutcome};
use crate::tally::{self, Decision, OptionIndex, Outcome};

/// How the poll was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `single` polls.
    Plurality,
    /// `ranked` polls for one seat.
    InstantRunoff,
    /// `ranked` polls for several seats: the single transferable vote by Meek's method.
    MeekStv,
}

impl Method {
    /// The method that counts polls of `poll_type` for `seats` seats.
    pub fn of(poll_type: PollType, seats: u32) -> Self {
        match poll_type {
            PollType::Single => Method::Plurality,
            PollType::Ranked if seats > 1 => Method::MeekStv,
            PollType::Ranked => Method::InstantRunoff,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Plurality => "plurality",
            Method::InstantRunoff => "instant_runoff",
            Method::MeekStv => "meek_stv",
        }
    }

    /// Parses the stored name.
    pub fn parse(name: &str) -> Option<Self> {
        [Method::Plurality, Method::InstantRunoff, Method::MeekStv].into_iter().find(|m| m.as_str() == name)
    }
}

/// A number of votes, exact to 9 decimal places: whole for plurality and instant runoff,
/// fractional where STV transfers part of a ballot. JSON: an integer when whole, otherwise a
/// number with at most 9 decimals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Votes(pub Fixed);

impl Votes {
    /// `n` whole votes.
    pub fn whole(n: u64) -> Self {
        Votes(n.saturating_mul(stv::ONE))
    }

    /// The whole part.
    pub fn floor(self) -> u64 {
        self.0 / stv::ONE
    }
}

impl std::fmt::Display for Votes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (whole, fraction) = (self.0 / stv::ONE, self.0 % stv::ONE);
        if fraction == 0 { write!(f, "{whole}") } else { write!(f, "{whole}.{fraction:09}") }
    }
}

impl Serialize for Votes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_multiple_of(stv::ONE) {
            serializer.serialize_u64(self.floor())
        } else {
            // The nearest f64 prints as the 9-decimal value itself up to 15 significant digits.
            serializer.serialize_f64(self.0 as f64 / stv::ONE as f64)
        }
    }
}

impl utoipa::PartialSchema for Votes {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::Type::Number)
            .minimum(Some(0))
            .description(Some("Votes: an integer when whole, otherwise at most 9 decimals (STV transfers)"))
            .into()
    }
}

impl utoipa::ToSchema for Votes {}

impl<'de> Deserialize<'de> for Votes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        if let Some(n) = number.as_u64() {
            return Ok(Votes::whole(n));
        }
        match number.as_f64() {
            Some(x) if x >= 0.0 && x.is_finite() => Ok(Votes((x * stv::ONE as f64).round() as Fixed)),
            _ => Err(serde::de::Error::custom("votes must be a non-negative number")),
        }
    }
}

/// Votes of one option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct OptionVotes {
    /// The option.
    pub option: String,
    /// Its votes.
    pub votes: Votes,
}

/// One round of the count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RoundResult {
    /// 1 for the first round.
    pub round: u32,
    /// Votes of each option still in the count (STV: and of those elected), in option order.
    pub tallies: Vec<OptionVotes>,
    /// Ballots (STV: ballot value) that reach no option still in the count.
    pub exhausted: Votes,
    /// Options eliminated after this round (none in the last).
    pub eliminated: Vec<String>,
    /// Options elected in this round (STV), most votes first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub elected: Vec<String>,
    /// The quota of this round (STV).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Votes>,
}

fn one() -> u32 {
    1
}

/// The outcome of a closed poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PollResults {
    /// Plurality, instant runoff or STV.
    pub method: Method,
    /// Seats filled (1 but for STV).
    #[serde(default = "one")]
    pub seats: u32,
    /// Ballots cast, blank ones included.
    pub ballots: u64,
    /// The winner of a one-seat poll; `null` when options tied, and for several seats.
    pub winner: Option<String>,
    /// Those elected, in the order they were elected (a one-seat poll: its winner, if any).
    #[serde(default)]
    pub elected: Vec<String>,
    /// The options that tied for the win (several seats: for the seats left), in option order;
    /// empty when every seat is filled.
    pub tied: Vec<String>,
    /// Ballots that counted for no option in the deciding round.
    pub exhausted: Votes,
    /// Every option's votes in the deciding round (eliminated options: 0), in option order.
    pub tallies: Vec<OptionVotes>,
    /// Every round of instant runoff or STV; empty for plurality.
    pub rounds: Vec<RoundResult>,
}

impl PollResults {
    /// Counts `ballots` (each distinct ranking and its number of ballots) on `poll` by its
    /// method.
    pub fn count(poll: &Poll, ballots: &[(Vec<OptionIndex>, u64)]) -> Self {
        Self::tabulate(Method::of(poll.poll_type, poll.seats), poll.seats, &poll.options, ballots)
    }

    /// Counts `ballots` over `options` by `method` for `seats` seats: the count of a poll's
    /// close and of `poll-service tabulate`.
    pub fn tabulate(method: Method, seats: u32, options: &[String], ballots: &[(Vec<OptionIndex>, u64)]) -> Self {
        match method {
            Method::MeekStv => Self::from_stv(options, &stv::count(options.len(), seats as usize, ballots)),
            Method::Plurality | Method::InstantRunoff => {
                let each: Vec<&[OptionIndex]> = ballots
                    .iter()
                    .flat_map(|(r, n)| std::iter::repeat_n(r.as_slice(), usize::try_from(*n).unwrap_or(usize::MAX)))
                    .collect();
                let outcome = if method == Method::Plurality {
                    tally::plurality::count(options.len(), &each)
                } else {
                    tally::irv::count(options.len(), &each)
                };
                Self::new(method, options, &outcome)
            }
        }
    }

    /// `outcome` with the names of `options`.
    pub fn new(method: Method, options: &[String], outcome: &Outcome) -> Self {
        let name = |o: &OptionIndex| options[usize::from(*o)].clone();
        let votes = |tallies: &[u64], among: &mut dyn Iterator<Item = usize>| -> Vec<OptionVotes> {
            among.map(|o| OptionVotes { option: options[o].clone(), votes: Votes::whole(tallies[o]) }).collect()
        };
        let (winner, tied) = match &outcome.decision {
            Decision::Winner(w) => (Some(name(w)), Vec::new()),
            Decision::Tie(t) => (None, t.iter().map(name).collect()),
        };
        let last = outcome.rounds.len();
        let rounds = outcome
            .rounds
            .iter()
            .zip(1..)
            .map(|(r, round)| RoundResult {
                round,
                tallies: votes(&r.tallies, &mut r.continuing.iter().map(|&o| usize::from(o))),
                exhausted: Votes::whole(r.exhausted),
                eliminated: r.eliminated.iter().map(name).collect(),
                elected: if round as usize == last { winner.iter().cloned().collect() } else { Vec::new() },
                quota: None,
            })
            .collect();
        Self {
            method,
            seats: 1,
            ballots: outcome.ballots,
            elected: winner.iter().cloned().collect(),
            winner,
            tied,
            exhausted: Votes::whole(outcome.exhausted),
            tallies: votes(&outcome.tallies, &mut (0..options.len())),
            rounds,
        }
    }

    /// An STV count with the names of `options`. A round's tallies list the options elected
    /// before it and those still hopeful.
    pub fn from_stv(options: &[String], outcome: &StvOutcome) -> Self {
        let name = |o: &OptionIndex| options[usize::from(*o)].clone();
        let mut elected_so_far: Vec<OptionIndex> = Vec::new();
        let rounds: Vec<RoundResult> = outcome
            .stages
            .iter()
            .zip(1..)
            .map(|(stage, round)| {
                let shown: Vec<usize> = (0..options.len())
                    .filter(|&o| {
                        let o = OptionIndex::try_from(o).unwrap_or(OptionIndex::MAX);
                        stage.hopeful.contains(&o) || elected_so_far.contains(&o)
                    })
                    .collect();
                elected_so_far.extend_from_slice(&stage.elected);
                RoundResult {
                    round,
                    tallies: shown
                        .into_iter()
                        .map(|o| OptionVotes { option: options[o].clone(), votes: Votes(stage.votes[o]) })
                        .collect(),
                    exhausted: Votes(stage.exhausted),
                    eliminated: stage.eliminated.iter().map(name).collect(),
                    elected: stage.elected.iter().map(name).collect(),
                    quota: Some(Votes(stage.quota)),
                }
            })
            .collect();
        let last = outcome.stages.last();
        Self {
            method: Method::MeekStv,
            seats: u32::try_from(outcome.seats).unwrap_or(u32::MAX),
            ballots: outcome.ballots,
            winner: None,
            elected: outcome.elected.iter().map(name).collect(),
            tied: outcome.tied.iter().map(name).collect(),
            exhausted: Votes(last.map_or(0, |s| s.exhausted)),
            tallies: (0..options.len())
                .map(|o| OptionVotes { option: options[o].clone(), votes: Votes(last.map_or(0, |s| s.votes[o])) })
                .collect(),
            rounds,
        }
    }
}

/// A closed poll with its results: the answer of `POST /polls/{uuid}/close` and
/// `GET /polls/{uuid}/results`, and the data of `voting.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClosedPoll {
    /// The poll (status `closed`).
    #[serde(flatten)]
    pub poll: Poll,
    /// Its outcome.
    pub results: PollResults,
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::domain::PollStatus;

    fn poll(poll_type: PollType, options: &[&str]) -> Poll {
        Poll {
            uuid: Uuid::nil(),
            meeting_id: "m".to_owned(),
            title: None,
            poll_type,
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            seats: 1,
            status: PollStatus::Closed,
        }
    }

    #[test]
    fn ranked_results_name_every_round() {
        let p = poll(PollType::Ranked, &["A", "B", "C"]);
        // B and C tie for the fewest in the only round so far: both go; A wins 4 of the 4
        // ballots still active.
        let ballots = [(vec![0], 3), (vec![1], 2), (vec![2, 0], 1), (vec![2], 1)];
        let results = PollResults::count(&p, &ballots);
        assert_eq!(
            serde_json::to_value(&results).unwrap(),
            json!({
                "method": "instant_runoff", "seats": 1, "ballots": 7, "winner": "A", "elected": ["A"], "tied": [],
                "exhausted": 3,
                "tallies": [{"option": "A", "votes": 4}, {"option": "B", "votes": 0}, {"option": "C", "votes": 0}],
                "rounds": [
                    {"round": 1, "exhausted": 0, "eliminated": ["B", "C"],
                     "tallies": [{"option": "A", "votes": 3}, {"option": "B", "votes": 2}, {"option": "C", "votes": 2}]},
                    {"round": 2, "exhausted": 3, "eliminated": [], "elected": ["A"],
                     "tallies": [{"option": "A", "votes": 4}]},
                ],
            })
        );
    }

    #[test]
    fn single_results_are_plurality_and_name_a_tie() {
        let p = poll(PollType::Single, &["X", "Y", "Z"]);
        let results = PollResults::count(&p, &[(vec![2], 2), (vec![0], 2), (vec![1], 1)]);
        assert_eq!(results.method, Method::Plurality);
        assert_eq!((results.winner.clone(), results.tied.clone()), (None, vec!["X".to_owned(), "Z".to_owned()]));
        assert_eq!(results.tallies.iter().map(|t| t.votes.floor()).collect::<Vec<_>>(), [2, 1, 2]);
        assert!(results.rounds.is_empty());
        let closed = ClosedPoll { poll: p, results };
        let value = serde_json::to_value(&closed).unwrap();
        assert_eq!((value["pollType"].as_str(), value["status"].as_str()), (Some("single"), Some("closed")));
        assert_eq!(value["results"]["method"], "plurality");
        assert_eq!(serde_json::from_value::<ClosedPoll>(value).unwrap(), closed);
    }

    #[test]
    fn stv_results_carry_fractional_votes_exactly_and_read_back() {
        let mut p = poll(PollType::Ranked, &["Castor", "Pollux", "Helen"]);
        p.seats = 2;
        let results = PollResults::count(&p, &[(vec![0, 1], 4), (vec![2], 2), (vec![], 1)]);
        assert_eq!((results.method, results.seats, results.ballots), (Method::MeekStv, 2, 7));
        assert_eq!(
            (results.elected.clone(), results.winner.clone()),
            (vec!["Castor".to_owned(), "Helen".to_owned()], None)
        );
        let value = serde_json::to_value(&results).unwrap();
        assert_eq!(value["rounds"][1]["tallies"][0], json!({"option": "Castor", "votes": 2.000000004}));
        assert_eq!(value["rounds"][1]["tallies"][1], json!({"option": "Pollux", "votes": 1.999999996}));
        assert_eq!(value["rounds"][0]["quota"], json!(2.000000001));
        assert_eq!(value["rounds"][0]["exhausted"], json!(1));
        assert_eq!(value["rounds"][1]["eliminated"], json!(["Pollux"]));
        assert_eq!(serde_json::from_value::<PollResults>(value).unwrap(), results);
        let text = serde_json::to_string(&results).unwrap();
        assert_eq!(serde_json::from_str::<PollResults>(&text).unwrap(), results);
    }

    #[test]
    fn votes_print_whole_or_with_nine_decimals() {
        assert_eq!(Votes::whole(12).to_string(), "12");
        assert_eq!(Votes(12_000_000_001).to_string(), "12.000000001");
        assert_eq!(Votes(500_000_000).to_string(), "0.500000000");
        assert!(serde_json::from_value::<Votes>(json!(-1)).is_err());
        assert!(serde_json::from_value::<Votes>(json!("1")).is_err());
    }
}
