//! Instant runoff. Every round counts each ballot for its most preferred option still in the
//! count; a ballot that ranks none of them is exhausted. Then:
//!
//! 1. an option with more than half of the ballots not exhausted wins;
//! 2. otherwise, when every option still in the count has the same votes, they tie;
//! 3. otherwise the option with the fewest votes is eliminated. Options tied for the fewest are
//!    separated by the rounds before, latest first: the one with fewer votes there goes. Options
//!    tied in every round so far are eliminated together (rule 2 guarantees one stays).
//!
//! Each round eliminates at least one option, so the count ends within as many rounds as there
//! are options. No rule looks at the order of the options or of the ballots.

use super::plurality::index;
use super::{Decision, OptionIndex, Outcome, Round};

/// Counts `ballots` (option indexes, most preferred first; each index below `options` and
/// listed at most once per ballot) over `options` options.
pub fn count<B: AsRef<[OptionIndex]>>(options: usize, ballots: &[B]) -> Outcome {
    let mut in_count = vec![true; options];
    let mut rounds: Vec<Round> = Vec::new();
    loop {
        let (tallies, exhausted) = first_preferences(options, ballots, &in_count);
        let active = ballots.len() as u64 - exhausted;
        let continuing: Vec<OptionIndex> = (0..options).filter(|&o| in_count[o]).map(index).collect();
        let votes = |o: &OptionIndex| tallies[usize::from(*o)];
        let decision = if let Some(&winner) = continuing.iter().find(|o| 2 * votes(o) > active) {
            Some(Decision::Winner(winner))
        } else if continuing.iter().all(|o| votes(o) == votes(&continuing[0])) {
            Some(Decision::Tie(continuing.clone()))
        } else {
            None
        };
        let eliminated = match decision {
            Some(_) => Vec::new(),
            None => to_eliminate(&rounds, &tallies, &continuing),
        };
        for &o in &eliminated {
            in_count[usize::from(o)] = false;
        }
        rounds.push(Round { tallies: tallies.clone(), continuing, exhausted, eliminated });
        if let Some(decision) = decision {
            return Outcome { decision, tallies, ballots: ballots.len() as u64, exhausted, rounds };
        }
    }
}

/// Votes of each option (each ballot for its first option still in the count) and the number
/// of exhausted ballots.
fn first_preferences<B: AsRef<[OptionIndex]>>(options: usize, ballots: &[B], in_count: &[bool]) -> (Vec<u64>, u64) {
    let mut tallies = vec![0u64; options];
    let mut exhausted = 0;
    for ballot in ballots {
        match ballot.as_ref().iter().find(|&&o| in_count[usize::from(o)]) {
            Some(&o) => tallies[usize::from(o)] += 1,
            None => exhausted += 1,
        }
    }
    (tallies, exhausted)
}

/// The options with the fewest votes now, narrowed by the earlier rounds, latest first.
fn to_eliminate(earlier: &[Round], tallies: &[u64], continuing: &[OptionIndex]) -> Vec<OptionIndex> {
    let mut lowest = fewest(continuing, tallies);
    for round in earlier.iter().rev() {
        lowest = fewest(&lowest, &round.tallies);
    }
    lowest
}

/// The `among` options with the fewest `tallies`.
fn fewest(among: &[OptionIndex], tallies: &[u64]) -> Vec<OptionIndex> {
    let least = among.iter().map(|&o| tallies[usize::from(o)]).min().unwrap_or(0);
    among.iter().copied().filter(|&o| tallies[usize::from(o)] == least).collect()
}

#[cfg(test)]
mod tests;
