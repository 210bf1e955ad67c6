//! Plurality: each ballot is one vote for its first (only) choice; the option with the most
//! votes wins. When several options share the most votes the outcome is a tie between them
//! (no ballots at all: every option ties with 0).

use super::{Decision, OptionIndex, Outcome};

/// Counts `ballots` over `options` options. A ballot's first entry is its choice; an empty
/// ballot counts for nothing and is reported as exhausted. Every index must be below `options`.
pub fn count<B: AsRef<[OptionIndex]>>(options: usize, ballots: &[B]) -> Outcome {
    let mut tallies = vec![0u64; options];
    let mut exhausted = 0;
    for ballot in ballots {
        match ballot.as_ref().first() {
            Some(&choice) => tallies[usize::from(choice)] += 1,
            None => exhausted += 1,
        }
    }
    let decision = leaders(&tallies);
    Outcome { decision, tallies, ballots: ballots.len() as u64, exhausted, rounds: Vec::new() }
}

/// The option with the most votes, or the options sharing the most votes.
fn leaders(tallies: &[u64]) -> Decision {
    let most = tallies.iter().copied().max().unwrap_or(0);
    let mut top: Vec<OptionIndex> = (0..tallies.len()).filter(|&o| tallies[o] == most).map(index).collect();
    if top.len() == 1 { Decision::Winner(top.remove(0)) } else { Decision::Tie(top) }
}

/// `usize` option position as an [`OptionIndex`]; polls have at most `MAX_OPTIONS` options.
pub(super) fn index(position: usize) -> OptionIndex {
    OptionIndex::try_from(position).unwrap_or(OptionIndex::MAX)
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;

    fn ballots(choices: &[(u16, usize)]) -> Vec<Vec<u16>> {
        choices.iter().flat_map(|&(o, n)| std::iter::repeat_n(vec![o], n)).collect()
    }

    #[test]
    fn the_option_with_most_votes_wins_without_a_majority() {
        // 4 / 3 / 2: option 0 wins with 4 of 9, not a majority.
        let outcome = count(3, &ballots(&[(1, 3), (0, 4), (2, 2)]));
        assert_eq!(outcome.decision, Decision::Winner(0));
        assert_eq!(outcome.tallies, [4, 3, 2]);
        assert_eq!((outcome.ballots, outcome.exhausted), (9, 0));
        assert!(outcome.rounds.is_empty());
    }

    #[test]
    fn a_lead_of_one_vote_wins() {
        let outcome = count(3, &ballots(&[(2, 5), (1, 4)]));
        assert_eq!(outcome.decision, Decision::Winner(2));
        assert_eq!(outcome.tallies, [0, 4, 5]);
    }

    #[test]
    fn tennessee_plurality_elects_memphis() {
        // Memphis 42, Nashville 26, Chattanooga 15, Knoxville 17 (first preferences).
        let outcome = count(4, &ballots(&[(0, 42), (1, 26), (2, 15), (3, 17)]));
        assert_eq!(outcome.decision, Decision::Winner(0));
        assert_eq!(outcome.tallies, [42, 26, 15, 17]);
    }

    #[test]
    fn a_shared_top_is_a_tie_of_exactly_the_leaders_in_option_order() {
        let outcome = count(4, &ballots(&[(3, 3), (1, 3), (0, 2), (2, 1)]));
        assert_eq!(outcome.decision, Decision::Tie(vec![1, 3]));
        assert_eq!(outcome.tallies, [2, 3, 1, 3]);
    }

    #[test]
    fn no_ballots_is_a_tie_of_every_option() {
        let outcome = count::<Vec<u16>>(3, &[]);
        assert_eq!(outcome.decision, Decision::Tie(vec![0, 1, 2]));
        assert_eq!(outcome.tallies, [0, 0, 0]);
        assert_eq!((outcome.ballots, outcome.exhausted), (0, 0));
    }

    #[test]
    fn an_empty_ballot_is_exhausted_and_later_entries_are_ignored() {
        let outcome = count(2, &[vec![], vec![1, 0], vec![1]]);
        assert_eq!(outcome.decision, Decision::Winner(1));
        assert_eq!(outcome.tallies, [0, 2]);
        assert_eq!((outcome.ballots, outcome.exhausted), (3, 1));
    }

    proptest! {
        #[test]
        fn tallies_sum_to_the_ballots_and_the_winner_has_the_most(
            options in 2usize..8,
            picks in prop::collection::vec(0u16..8, 0..200),
        ) {
            let ballots: Vec<Vec<u16>> = picks.iter().map(|&p| vec![p % options as u16]).collect();
            let outcome = count(options, &ballots);
            prop_assert_eq!(outcome.tallies.iter().sum::<u64>(), ballots.len() as u64);
            let most = *outcome.tallies.iter().max().unwrap();
            match outcome.decision {
                Decision::Winner(w) => {
                    prop_assert_eq!(outcome.tallies[usize::from(w)], most);
                    prop_assert_eq!(outcome.tallies.iter().filter(|&&t| t == most).count(), 1);
                }
                Decision::Tie(tied) => {
                    let expected: Vec<u16> =
                        (0..options).filter(|&o| outcome.tallies[o] == most).map(|o| o as u16).collect();
                    prop_assert!(tied.len() >= 2);
                    prop_assert_eq!(tied, expected);
                }
            }
        }

        #[test]
        fn the_ballot_order_does_not_matter(
            picks in prop::collection::vec(0u16..4, 0..100),
            seed in any::<u64>(),
        ) {
            let ballots: Vec<Vec<u16>> = picks.iter().map(|&p| vec![p]).collect();
            let mut shuffled = ballots.clone();
            shuffle(&mut shuffled, seed);
            prop_assert_eq!(count(4, &ballots), count(4, &shuffled));
        }
    }

    /// A deterministic Fisher-Yates shuffle driven by `seed` (proptest shrinks the seed).
    pub(crate) fn shuffle<T>(items: &mut [T], mut seed: u64) {
        for i in (1..items.len()).rev() {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let j = (seed >> 33) as usize % (i + 1);
            items.swap(i, j);
        }
    }
}
