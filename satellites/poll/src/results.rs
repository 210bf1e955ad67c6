//! A closed poll's outcome as stored, served by `GET /polls/{uuid}/results` and carried by
//! `voting.completed`: the [`crate::tally`] outcome with option names instead of indexes.

use serde::{Deserialize, Serialize};

use crate::domain::{Poll, PollType};
use crate::tally::{self, Decision, OptionIndex, Outcome};

/// How the poll was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// `single` polls.
    Plurality,
    /// `ranked` polls.
    InstantRunoff,
}

impl Method {
    /// The method that counts polls of `poll_type`.
    pub fn of(poll_type: PollType) -> Self {
        match poll_type {
            PollType::Single => Method::Plurality,
            PollType::Ranked => Method::InstantRunoff,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Plurality => "plurality",
            Method::InstantRunoff => "instant_runoff",
        }
    }

    /// Counts `ballots` (option indexes, most preferred first) over `options` options.
    pub fn count<B: AsRef<[OptionIndex]>>(self, options: usize, ballots: &[B]) -> Outcome {
        match self {
            Method::Plurality => tally::plurality::count(options, ballots),
            Method::InstantRunoff => tally::irv::count(options, ballots),
        }
    }
}

/// Votes of one option.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OptionVotes {
    /// The option.
    pub option: String,
    /// Its votes.
    pub votes: u64,
}

/// One instant-runoff round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundResult {
    /// 1 for the first round.
    pub round: u32,
    /// Votes of each option still in the count, in option order.
    pub tallies: Vec<OptionVotes>,
    /// Ballots that rank no option still in the count.
    pub exhausted: u64,
    /// Options eliminated after this round (none in the last).
    pub eliminated: Vec<String>,
}

/// The outcome of a closed poll.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollResults {
    /// Plurality or instant runoff.
    pub method: Method,
    /// Ballots cast.
    pub ballots: u64,
    /// The winner; `null` when options tied.
    pub winner: Option<String>,
    /// The options that tied for the win, in option order; empty when there is a winner.
    pub tied: Vec<String>,
    /// Ballots that counted for no option in the deciding round (instant runoff only).
    pub exhausted: u64,
    /// Every option's votes in the deciding round (eliminated options: 0), in option order.
    pub tallies: Vec<OptionVotes>,
    /// Every instant-runoff round; empty for plurality.
    pub rounds: Vec<RoundResult>,
}

impl PollResults {
    /// Counts `ballots` on `poll` by its method.
    pub fn count<B: AsRef<[OptionIndex]>>(poll: &Poll, ballots: &[B]) -> Self {
        let method = Method::of(poll.poll_type);
        Self::new(method, &poll.options, &method.count(poll.options.len(), ballots))
    }

    /// `outcome` with the names of `options`.
    pub fn new(method: Method, options: &[String], outcome: &Outcome) -> Self {
        let name = |o: &OptionIndex| options[usize::from(*o)].clone();
        let votes = |tallies: &[u64], among: &mut dyn Iterator<Item = usize>| -> Vec<OptionVotes> {
            among.map(|o| OptionVotes { option: options[o].clone(), votes: tallies[o] }).collect()
        };
        let (winner, tied) = match &outcome.decision {
            Decision::Winner(w) => (Some(name(w)), Vec::new()),
            Decision::Tie(t) => (None, t.iter().map(name).collect()),
        };
        let rounds = outcome
            .rounds
            .iter()
            .zip(1..)
            .map(|(r, round)| RoundResult {
                round,
                tallies: votes(&r.tallies, &mut r.continuing.iter().map(|&o| usize::from(o))),
                exhausted: r.exhausted,
                eliminated: r.eliminated.iter().map(name).collect(),
            })
            .collect();
        Self {
            method,
            ballots: outcome.ballots,
            winner,
            tied,
            exhausted: outcome.exhausted,
            tallies: votes(&outcome.tallies, &mut (0..options.len())),
            rounds,
        }
    }
}

/// A closed poll with its results: the answer of `POST /polls/{uuid}/close` and
/// `GET /polls/{uuid}/results`, and the data of `voting.completed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
            poll_type,
            options: options.iter().map(|o| (*o).to_owned()).collect(),
            status: PollStatus::Closed,
        }
    }

    #[test]
    fn ranked_results_name_every_round() {
        let p = poll(PollType::Ranked, &["A", "B", "C"]);
        // B and C tie for the fewest in the only round so far: both go; A wins 4 of the 4
        // ballots still active.
        let ballots = [vec![0], vec![0], vec![0], vec![1], vec![1], vec![2, 0], vec![2]];
        let results = PollResults::count(&p, &ballots);
        assert_eq!(
            serde_json::to_value(&results).unwrap(),
            json!({
                "method": "instant_runoff", "ballots": 7, "winner": "A", "tied": [], "exhausted": 3,
                "tallies": [{"option": "A", "votes": 4}, {"option": "B", "votes": 0}, {"option": "C", "votes": 0}],
                "rounds": [
                    {"round": 1, "exhausted": 0, "eliminated": ["B", "C"],
                     "tallies": [{"option": "A", "votes": 3}, {"option": "B", "votes": 2}, {"option": "C", "votes": 2}]},
                    {"round": 2, "exhausted": 3, "eliminated": [],
                     "tallies": [{"option": "A", "votes": 4}]},
                ],
            })
        );
    }

    #[test]
    fn single_results_are_plurality_and_name_a_tie() {
        let p = poll(PollType::Single, &["X", "Y", "Z"]);
        let results = PollResults::count(&p, &[vec![2], vec![0], vec![2], vec![0], vec![1]]);
        assert_eq!(results.method, Method::Plurality);
        assert_eq!((results.winner.clone(), results.tied.clone()), (None, vec!["X".to_owned(), "Z".to_owned()]));
        assert_eq!(results.tallies.iter().map(|t| t.votes).collect::<Vec<_>>(), [2, 1, 2]);
        assert!(results.rounds.is_empty());
        let closed = ClosedPoll { poll: p, results };
        let value = serde_json::to_value(&closed).unwrap();
        assert_eq!((value["pollType"].as_str(), value["status"].as_str()), (Some("single"), Some("closed")));
        assert_eq!(value["results"]["method"], "plurality");
        assert_eq!(serde_json::from_value::<ClosedPoll>(value).unwrap(), closed);
    }
}
