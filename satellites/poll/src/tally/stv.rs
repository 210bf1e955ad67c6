//! The single transferable vote by Meek's method, for ranked polls with more than one seat:
//! the Proportional Representation Foundation's *Reference Meek Rule* (prfound.org), steps A to
//! C, with its arithmetic to the letter: fixed point with 9 decimal places, a ballot's share to
//! a candidate (weight x keep factor) rounded up, the quota (votes / (seats + 1)) truncated
//! plus 0.000000001, keep factors (kf x quota rounded up, / vote rounded up), omega 0.000001,
//! the stable-surplus stop, and "tied with the lowest" meaning within the total surplus.
//!
//! Where the rule draws lots (procedure T) this count decides as instant runoff does (see
//! [`super::irv`] and decision 024): candidates tied for defeat are separated by the earlier
//! rounds, latest first; those tied in every round are defeated together, unless that would
//! leave fewer hopeful candidates than seats, and when every hopeful candidate has the same
//! vote the count ends with them tied for the seats left. The rule's step C.1 ("elect
//! remaining") is recorded as a last round of its own. With one seat the count is therefore
//! exactly instant runoff, round for round (a property test checks it).

use super::plurality::index;
use super::{Decision, OptionIndex};

/// A vote value in billionths (9 decimal places), as the rule computes.
pub type Fixed = u64;

/// One, in [`Fixed`] units.
pub const ONE: Fixed = 1_000_000_000;
/// The iteration stops once the total surplus is below omega (0.000001).
const OMEGA: Fixed = 1_000;

/// One round of the count (rule step B, plus the closing "elect remaining").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// Votes of each candidate at the end of the round, by option index (defeated: 0).
    pub votes: Vec<Fixed>,
    /// Hopeful candidates (neither elected nor defeated) when the round began, in option order.
    pub hopeful: Vec<OptionIndex>,
    /// The quota of the round's last iteration.
    pub quota: Fixed,
    /// Ballot value that reached no candidate (ballots ranking none still in the count, and
    /// the rounding).
    pub exhausted: Fixed,
    /// Candidates elected in this round, most votes first.
    pub elected: Vec<OptionIndex>,
    /// Candidates defeated at the end of this round.
    pub eliminated: Vec<OptionIndex>,
    /// Iterations of step B.2 in this round.
    pub iterations: u32,
}

/// The result of an STV count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StvOutcome {
    /// Seats to fill.
    pub seats: usize,
    /// Candidates elected, in the order they were elected.
    pub elected: Vec<OptionIndex>,
    /// Candidates tied for the seats still empty, in option order; empty when every seat is
    /// filled (or fewer candidates than seats stood).
    pub tied: Vec<OptionIndex>,
    /// Ballots counted (blank ones included).
    pub ballots: u64,
    /// Every round, first to last.
    pub stages: Vec<Stage>,
}

impl StvOutcome {
    /// The single-seat reading: the winner, or the options tied.
    pub fn decision(&self) -> Decision {
        match (self.elected.as_slice(), self.tied.is_empty()) {
            ([winner], true) => Decision::Winner(*winner),
            _ => Decision::Tie(self.elected.iter().chain(&self.tied).copied().collect()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Hopeful,
    Elected,
    Defeated,
}

/// Counts `ballots` (a ranking of option indexes, most preferred first, and how many ballots
/// carry it) over `options` options for `seats` seats.
pub fn count<B: AsRef<[OptionIndex]>>(options: usize, seats: usize, ballots: &[(B, u64)]) -> StvOutcome {
    let total: u64 = ballots.iter().map(|(_, n)| n).sum();
    let mut state = vec![State::Hopeful; options];
    let mut kf = vec![ONE; options];
    let mut elected: Vec<OptionIndex> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    let hopeful = |state: &[State]| -> Vec<OptionIndex> {
        (0..options).filter(|&o| state[o] == State::Hopeful).map(index).collect()
    };
    // B.1: rounds while hopeful candidates outnumber the seats left.
    loop {
        let seats_left = seats.saturating_sub(elected.len());
        let before = hopeful(&state);
        if before.len() <= seats_left || seats_left == 0 {
            break;
        }
        // B.2: iterate.
        let mut last_surplus = total.saturating_mul(ONE);
        let mut iterations = 0;
        let (votes, quota, surplus, newly) = loop {
            iterations += 1;
            let (votes, residual) = distribute(options, ballots, &kf);
            let quota = (total * ONE - residual) / (seats as u64 + 1) + 1;
            let mut newly: Vec<OptionIndex> = before
                .iter()
                .copied()
                .filter(|&o| state[usize::from(o)] == State::Hopeful && votes[usize::from(o)] >= quota)
                .collect();
            for &o in &newly {
                state[usize::from(o)] = State::Elected;
            }
            newly.sort_by_key(|&o| (std::cmp::Reverse(votes[usize::from(o)]), o));
            let surplus: i128 = (0..options)
                .filter(|&o| state[o] == State::Elected)
                .map(|o| i128::from(votes[o]) - i128::from(quota))
                .sum();
            let surplus = Fixed::try_from(surplus.max(0)).unwrap_or(Fixed::MAX);
            if !newly.is_empty() || surplus < OMEGA || surplus >= last_surplus {
                break (votes, quota, surplus, newly);
            }
            last_surplus = surplus;
            for o in (0..options).filter(|&o| state[o] == State::Elected) {
                kf[o] = div_up(mul_up(kf[o], quota), votes[o]);
            }
        };
        let exhausted = total * ONE - votes.iter().sum::<Fixed>();
        let mut stage =
            Stage { votes, hopeful: before, quota, exhausted, elected: newly, eliminated: Vec::new(), iterations };
        if !stage.elected.is_empty() {
            elected.extend_from_slice(&stage.elected);
            stages.push(stage);
            continue;
        }
        // B.3: defeat the lowest (ties as instant runoff decides them, see the module doc).
        let still: Vec<OptionIndex> = hopeful(&state);
        let vote = |o: &OptionIndex| stage.votes[usize::from(*o)];
        if still.iter().all(|o| vote(o) == vote(&still[0])) {
            stages.push(stage);
            return StvOutcome { seats, elected, tied: still, ballots: total, stages };
        }
        let low = still.iter().map(vote).min().unwrap_or(0);
        let mut group: Vec<OptionIndex> = still.iter().copied().filter(|o| vote(o) <= low + surplus).collect();
        for earlier in stages.iter().rev() {
            group = fewest(&group, &earlier.votes);
        }
        if still.len() - group.len() < seats_left {
            // Defeating them all would leave a seat without a candidate: the others are
            // elected and the group ties for the seats left.
            let others: Vec<OptionIndex> = still.iter().copied().filter(|o| !group.contains(o)).collect();
            stage.elected.clone_from(&others);
            stage.elected.sort_by_key(|&o| (std::cmp::Reverse(vote(&o)), o));
            elected.extend_from_slice(&stage.elected);
            stages.push(stage);
            return StvOutcome { seats, elected, tied: group, ballots: total, stages };
        }
        for &o in &group {
            state[usize::from(o)] = State::Defeated;
            kf[usize::from(o)] = 0;
        }
        stage.eliminated = group;
        stages.push(stage);
    }
    // C.1: elect the remaining hopeful candidates when seats are left, as a round of its own.
    let remaining = hopeful(&state);
    if elected.len() < seats && !remaining.is_empty() {
        let (votes, residual) = distribute(options, ballots, &kf);
        let quota = (total * ONE - residual) / (seats as u64 + 1) + 1;
        let mut newly = remaining.clone();
        newly.sort_by_key(|&o| (std::cmp::Reverse(votes[usize::from(o)]), o));
        elected.extend_from_slice(&newly);
        stages.push(Stage {
            votes,
            hopeful: remaining,
            quota,
            exhausted: residual,
            elected: newly,
            eliminated: Vec::new(),
            iterations: 1,
        });
    }
    StvOutcome { seats, elected, tied: Vec::new(), ballots: total, stages }
}

/// B.2.a: each ballot's weight, starting at 1, goes down its ranking: every candidate keeps
/// weight x keep factor (rounded up) times the ballot's count, and passes the rest on.
/// Returns the votes and the value that reached no candidate.
fn distribute<B: AsRef<[OptionIndex]>>(options: usize, ballots: &[(B, u64)], kf: &[Fixed]) -> (Vec<Fixed>, Fixed) {
    let mut votes = vec![0; options];
    let mut residual = 0;
    for (ranking, n) in ballots {
        let mut weight = ONE;
        for &o in ranking.as_ref() {
            let k = kf[usize::from(o)];
            if k == 0 {
                continue;
            }
            let keep = if k == ONE { weight } else { mul_up(weight, k) };
            votes[usize::from(o)] += keep * n;
            weight -= keep;
            if weight == 0 {
                break;
            }
        }
        residual += weight * n;
    }
    (votes, residual)
}

/// `a x b`, both in billionths, rounded up to a billionth.
fn mul_up(a: Fixed, b: Fixed) -> Fixed {
    let product = u128::from(a) * u128::from(b);
    Fixed::try_from(product.div_ceil(u128::from(ONE))).unwrap_or(Fixed::MAX)
}

/// `a / b`, both in billionths, rounded up to a billionth (`b` > 0: an elected candidate's
/// vote is at least the quota).
fn div_up(a: Fixed, b: Fixed) -> Fixed {
    let scaled = u128::from(a) * u128::from(ONE);
    Fixed::try_from(scaled.div_ceil(u128::from(b.max(1)))).unwrap_or(Fixed::MAX)
}

/// The `among` candidates with the fewest `votes`.
fn fewest(among: &[OptionIndex], votes: &[Fixed]) -> Vec<OptionIndex> {
    let least = among.iter().map(|&o| votes[usize::from(o)]).min().unwrap_or(0);
    among.iter().copied().filter(|&o| votes[usize::from(o)] == least).collect()
}

#[cfg(test)]
mod tests;
