//! Instant runoff against published reference cases, hand-counted edge cases, and properties.

use proptest::prelude::*;

use super::count;
use crate::tally::plurality::{self, tests::shuffle};
use crate::tally::{Decision, OptionIndex, Outcome, Round};

/// `n` copies of each ranking.
fn profile(groups: &[(usize, &[OptionIndex])]) -> Vec<Vec<OptionIndex>> {
    groups.iter().flat_map(|&(n, ranking)| std::iter::repeat_n(ranking.to_vec(), n)).collect()
}

fn round(tallies: &[u64], continuing: &[OptionIndex], exhausted: u64, eliminated: &[OptionIndex]) -> Round {
    Round { tallies: tallies.to_vec(), continuing: continuing.to_vec(), exhausted, eliminated: eliminated.to_vec() }
}

/// Wikipedia, "Instant-runoff voting": the capital of Tennessee. Memphis (0) leads the first
/// preferences and wins by plurality; Knoxville (3) wins the runoff.
#[test]
fn tennessee_capital_elects_knoxville_not_the_plurality_winner_memphis() {
    let (m, n, c, k) = (0, 1, 2, 3);
    let ballots = profile(&[(42, &[m, n, c, k]), (26, &[n, c, k, m]), (15, &[c, k, n, m]), (17, &[k, c, n, m])]);
    assert_eq!(plurality::count(4, &ballots).decision, Decision::Winner(m));
    let outcome = count(4, &ballots);
    assert_eq!(outcome.decision, Decision::Winner(k));
    assert_eq!(
        outcome.rounds,
        [
            round(&[42, 26, 15, 17], &[0, 1, 2, 3], 0, &[c]),
            round(&[42, 26, 0, 32], &[0, 1, 3], 0, &[n]),
            round(&[42, 0, 0, 58], &[0, 3], 0, &[]),
        ]
    );
    assert_eq!(outcome.tallies, [42, 0, 0, 58]);
    assert_eq!((outcome.ballots, outcome.exhausted), (100, 0));
}

/// Tannenbaum, "Excursions in Modern Mathematics", ch. 1: the Math Appreciation Society
/// election. Alisha (0) wins by plurality; plurality-with-elimination elects Dave (3).
#[test]
fn math_appreciation_society_elects_dave_not_the_plurality_winner_alisha() {
    let (a, b, c, d) = (0, 1, 2, 3);
    let ballots = profile(&[
        (14, &[a, b, c, d]),
        (10, &[c, b, d, a]),
        (8, &[d, c, b, a]),
        (4, &[b, d, c, a]),
        (1, &[c, d, b, a]),
    ]);
    assert_eq!(plurality::count(4, &ballots).decision, Decision::Winner(a));
    let outcome = count(4, &ballots);
    assert_eq!(outcome.decision, Decision::Winner(d));
    assert_eq!(
        outcome.rounds,
        [
            round(&[14, 4, 11, 8], &[0, 1, 2, 3], 0, &[b]),
            round(&[14, 0, 11, 12], &[0, 2, 3], 0, &[c]),
            round(&[14, 0, 0, 23], &[0, 3], 0, &[]),
        ]
    );
    assert_eq!(outcome.tallies, [14, 0, 0, 23]);
}

#[test]
fn a_first_round_majority_wins_at_once() {
    let ballots = profile(&[(5, &[2, 0]), (3, &[0, 2]), (1, &[1])]);
    let outcome = count(3, &ballots);
    assert_eq!(outcome.decision, Decision::Winner(2));
    assert_eq!(outcome.rounds, [round(&[3, 1, 5], &[0, 1, 2], 0, &[])]);
}

#[test]
fn exactly_half_is_not_a_majority() {
    // 4 of 8 for option 0: no majority; option 2 goes and its ballots make option 1 win.
    let ballots = profile(&[(4, &[0]), (3, &[1]), (1, &[2, 1])]);
    let outcome = count(3, &ballots);
    assert_eq!(outcome.decision, Decision::Tie(vec![0, 1]));
    assert_eq!(outcome.rounds, [round(&[4, 3, 1], &[0, 1, 2], 0, &[2]), round(&[4, 4, 0], &[0, 1], 0, &[])]);
}

/// Partial rankings: once their options are out, ballots are exhausted, and the majority is
/// of the ballots still active (4 of 7), not of all ballots (4 of 9).
#[test]
fn exhausted_ballots_leave_the_majority_to_the_active_ones() {
    let ballots = profile(&[(4, &[0]), (3, &[1, 0]), (2, &[2])]);
    let outcome = count(3, &ballots);
    assert_eq!(outcome.decision, Decision::Winner(0));
    assert_eq!(outcome.rounds, [round(&[4, 3, 2], &[0, 1, 2], 0, &[2]), round(&[4, 3, 0], &[0, 1], 2, &[])]);
    assert_eq!(outcome.tallies, [4, 3, 0]);
    assert_eq!((outcome.ballots, outcome.exhausted), (9, 2));
}

#[test]
fn ballots_skip_eliminated_options_to_their_next_preference() {
    // Option 3's ballots name 2 (already out) then 1.
    let ballots = profile(&[(6, &[0]), (5, &[1]), (2, &[2, 0]), (1, &[3, 2, 1])]);
    let outcome = count(4, &ballots);
    assert_eq!(outcome.rounds[0], round(&[6, 5, 2, 1], &[0, 1, 2, 3], 0, &[3]));
    assert_eq!(outcome.rounds[1], round(&[6, 5, 3, 0], &[0, 1, 2], 0, &[2]));
    assert_eq!(outcome.rounds[2], round(&[8, 6, 0, 0], &[0, 1], 0, &[]));
    assert_eq!(outcome.decision, Decision::Winner(0));
}

#[test]
fn equal_final_options_tie_after_exhaustion() {
    let ballots = profile(&[(3, &[0]), (3, &[1]), (2, &[2])]);
    let outcome = count(3, &ballots);
    assert_eq!(outcome.decision, Decision::Tie(vec![0, 1]));
    assert_eq!(outcome.rounds, [round(&[3, 3, 2], &[0, 1, 2], 0, &[2]), round(&[3, 3, 0], &[0, 1], 2, &[])]);
    assert_eq!((outcome.exhausted, outcome.tallies.clone()), (2, vec![3, 3, 0]));
}

#[test]
fn every_option_equal_in_the_first_round_ties_them_all() {
    let ballots = profile(&[(2, &[0, 1]), (2, &[1, 2]), (2, &[2, 0])]);
    let outcome = count(3, &ballots);
    assert_eq!(outcome.decision, Decision::Tie(vec![0, 1, 2]));
    assert_eq!(outcome.rounds, [round(&[2, 2, 2], &[0, 1, 2], 0, &[])]);
}

#[test]
fn no_ballots_ties_every_option() {
    let outcome = count::<Vec<OptionIndex>>(2, &[]);
    assert_eq!(outcome.decision, Decision::Tie(vec![0, 1]));
    assert_eq!(outcome.rounds, [round(&[0, 0], &[0, 1], 0, &[])]);
    assert_eq!((outcome.ballots, outcome.exhausted), (0, 0));
}

/// Options 1 and 2 tie for the fewest in round 2; round 1 had 1 ahead (8 to 5), so 2 goes.
/// Eliminating 1 instead would elect 2.
#[test]
fn a_tie_for_the_fewest_is_broken_by_the_round_before() {
    let ballots = profile(&[(10, &[0]), (8, &[1, 2]), (5, &[2, 0]), (3, &[3, 2, 1])]);
    let outcome = count(4, &ballots);
    assert_eq!(
        outcome.rounds,
        [
            round(&[10, 8, 5, 3], &[0, 1, 2, 3], 0, &[3]),
            round(&[10, 8, 8, 0], &[0, 1, 2], 0, &[2]),
            round(&[15, 11, 0, 0], &[0, 1], 0, &[]),
        ]
    );
    assert_eq!(outcome.decision, Decision::Winner(0));
}

/// The latest earlier round decides, not the first: X and Y tie in round 3; X was behind in
/// round 2 (9 to 10) though ahead in round 1 (9 to 8), so X goes and Y wins. Eliminating Y
/// would elect A.
#[test]
fn the_latest_earlier_round_decides_a_tie_for_the_fewest() {
    let (a, x, y, p, q) = (0, 1, 2, 3, 4);
    let ballots = profile(&[(20, &[a]), (9, &[x, y]), (8, &[y, a]), (2, &[q, y]), (2, &[p, x, y]), (1, &[p, y])]);
    let outcome = count(5, &ballots);
    assert_eq!(
        outcome.rounds,
        [
            round(&[20, 9, 8, 3, 2], &[0, 1, 2, 3, 4], 0, &[q]),
            round(&[20, 9, 10, 3, 0], &[0, 1, 2, 3], 0, &[p]),
            round(&[20, 11, 11, 0, 0], &[0, 1, 2], 0, &[x]),
            round(&[20, 0, 22, 0, 0], &[0, 2], 0, &[]),
        ]
    );
    assert_eq!(outcome.decision, Decision::Winner(y));
}

#[test]
fn options_tied_in_every_round_are_eliminated_together() {
    let ballots = profile(&[(5, &[0]), (4, &[1]), (1, &[2, 1]), (1, &[3, 1])]);
    let outcome = count(4, &ballots);
    assert_eq!(
        outcome.rounds,
        [round(&[5, 4, 1, 1], &[0, 1, 2, 3], 0, &[2, 3]), round(&[5, 6, 0, 0], &[0, 1], 0, &[])]
    );
    assert_eq!(outcome.decision, Decision::Winner(1));
}

#[test]
fn tied_options_eliminated_together_can_leave_a_condorcet_loser_alone() {
    // Options 1 and 3 have 9 votes each in the first round and 11 each in the second, so they
    // are eliminated together, and option 2 (12) is left alone to win, although each of the
    // three others beats it head to head. The property test found it.
    let ballots: Vec<Vec<OptionIndex>> = [
        &[3][..],
        &[3],
        &[1],
        &[2],
        &[3],
        &[0, 2],
        &[0, 1],
        &[3],
        &[3],
        &[0, 2],
        &[1],
        &[2],
        &[1, 0, 3],
        &[2],
        &[1],
        &[3, 1],
        &[2],
        &[2],
        &[2],
        &[0, 3, 1],
        &[0, 2],
        &[0, 1],
        &[1],
        &[2],
        &[1, 0, 3],
        &[1],
        &[3, 0, 1],
        &[3],
        &[2],
        &[1],
        &[1],
        &[3],
        &[0, 3],
        &[2],
    ]
    .iter()
    .map(|b| b.to_vec())
    .collect();
    let outcome = count(4, &ballots);
    assert_eq!(outcome.rounds[1].eliminated, [1, 3]);
    assert_eq!(outcome.decision, Decision::Winner(2));
    for o in [0, 1, 3] {
        let for_o = ballots.iter().filter(|b| prefers(b, o, 2)).count();
        let for_2 = ballots.iter().filter(|b| prefers(b, 2, o)).count();
        assert!(for_o > for_2, "{o} beats 2 head to head: {for_o} against {for_2}");
    }
}

/// Up to 6 options and 60 ballots, each a ranking of 1 to all options.
fn poll() -> impl Strategy<Value = (usize, Vec<Vec<OptionIndex>>)> {
    (2usize..=6).prop_flat_map(|n| {
        let ballot = (Just((0..n as OptionIndex).collect::<Vec<_>>()).prop_shuffle(), 1..=n)
            .prop_map(|(order, len)| order[..len].to_vec());
        (Just(n), prop::collection::vec(ballot, 0..60))
    })
}

/// `outcome` with option `o` renamed `map[o]`.
fn relabel(outcome: &Outcome, map: &[OptionIndex]) -> Outcome {
    let tallies = |t: &[u64]| {
        let mut moved = vec![0; t.len()];
        for (o, &v) in t.iter().enumerate() {
            moved[usize::from(map[o])] = v;
        }
        moved
    };
    let set = |s: &[OptionIndex]| {
        let mut moved: Vec<OptionIndex> = s.iter().map(|&o| map[usize::from(o)]).collect();
        moved.sort_unstable();
        moved
    };
    Outcome {
        decision: match &outcome.decision {
            Decision::Winner(w) => Decision::Winner(map[usize::from(*w)]),
            Decision::Tie(t) => Decision::Tie(set(t)),
        },
        tallies: tallies(&outcome.tallies),
        ballots: outcome.ballots,
        exhausted: outcome.exhausted,
        rounds: outcome
            .rounds
            .iter()
            .map(|r| Round {
                tallies: tallies(&r.tallies),
                continuing: set(&r.continuing),
                exhausted: r.exhausted,
                eliminated: set(&r.eliminated),
            })
            .collect(),
    }
}

/// Whether `x` is preferred to `y` on the ballot (ranked above it, or ranked while `y` is not).
fn prefers(ballot: &[OptionIndex], x: OptionIndex, y: OptionIndex) -> bool {
    match (ballot.iter().position(|&o| o == x), ballot.iter().position(|&o| o == y)) {
        (Some(px), Some(py)) => px < py,
        (Some(_), None) => true,
        _ => false,
    }
}

proptest! {
    #[test]
    fn every_voters_first_choice_wins_in_the_first_round((n, ballots) in poll(), first in 0u16..6) {
        let first = first % n as OptionIndex;
        let ballots: Vec<Vec<OptionIndex>> = ballots
            .into_iter()
            .map(|b| std::iter::once(first).chain(b.into_iter().filter(|&o| o != first)).collect())
            .collect();
        prop_assume!(!ballots.is_empty());
        let outcome = count(n, &ballots);
        prop_assert_eq!(outcome.decision, Decision::Winner(first));
        prop_assert_eq!(outcome.rounds.len(), 1);
        prop_assert_eq!(outcome.tallies[usize::from(first)], ballots.len() as u64);
    }

    #[test]
    fn the_ballot_order_does_not_matter((n, ballots) in poll(), seed in any::<u64>()) {
        let mut shuffled = ballots.clone();
        shuffle(&mut shuffled, seed);
        prop_assert_eq!(count(n, &ballots), count(n, &shuffled));
    }

    #[test]
    fn the_option_order_does_not_matter((n, ballots) in poll(), seed in any::<u64>()) {
        let mut map: Vec<OptionIndex> = (0..n as OptionIndex).collect();
        shuffle(&mut map, seed);
        let renamed: Vec<Vec<OptionIndex>> =
            ballots.iter().map(|b| b.iter().map(|&o| map[usize::from(o)]).collect()).collect();
        prop_assert_eq!(relabel(&count(n, &ballots), &map), count(n, &renamed));
    }

    #[test]
    fn every_round_accounts_for_every_ballot_and_drops_its_weakest((n, ballots) in poll()) {
        let outcome = count(n, &ballots);
        let total = ballots.len() as u64;
        prop_assert_eq!(outcome.ballots, total);
        prop_assert!(outcome.rounds.len() <= n);
        let mut continuing: Vec<OptionIndex> = (0..n as OptionIndex).collect();
        let mut exhausted = 0;
        for (i, r) in outcome.rounds.iter().enumerate() {
            prop_assert_eq!(&r.continuing, &continuing);
            prop_assert_eq!(r.tallies.iter().sum::<u64>() + r.exhausted, total);
            prop_assert!(r.exhausted >= exhausted);
            exhausted = r.exhausted;
            for o in 0..n as OptionIndex {
                if !continuing.contains(&o) {
                    prop_assert_eq!(r.tallies[usize::from(o)], 0);
                }
            }
            let last = i + 1 == outcome.rounds.len();
            prop_assert_eq!(r.eliminated.is_empty(), last);
            let least = continuing.iter().map(|&o| r.tallies[usize::from(o)]).min().unwrap();
            for o in &r.eliminated {
                prop_assert_eq!(r.tallies[usize::from(*o)], least);
            }
            continuing.retain(|o| !r.eliminated.contains(o));
            prop_assert!(!continuing.is_empty());
        }
        let last = outcome.rounds.last().unwrap();
        prop_assert_eq!(&outcome.tallies, &last.tallies);
        prop_assert_eq!(outcome.exhausted, last.exhausted);
        prop_assert_eq!(outcome.tallies.iter().sum::<u64>(), total - outcome.exhausted);
        let active = total - last.exhausted;
        match &outcome.decision {
            Decision::Winner(w) => prop_assert!(2 * outcome.tallies[usize::from(*w)] > active),
            Decision::Tie(tied) => {
                prop_assert_eq!(tied, &last.continuing);
                for o in tied {
                    prop_assert_eq!(outcome.tallies[usize::from(*o)], outcome.tallies[usize::from(tied[0])]);
                }
            }
        }
    }

    /// A winner beats head to head every option still in the count when it wins (its majority
    /// of the active ballots all prefer it). So an option that loses head to head against every
    /// other one (a Condorcet loser) can only win alone in the count: after options tied for the
    /// fewest in every round were eliminated together (the documented rule; see
    /// `tied_options_eliminated_together_can_leave_a_condorcet_loser_alone`).
    #[test]
    fn a_winner_beats_every_option_left_and_a_condorcet_loser_only_wins_alone((n, ballots) in poll()) {
        let outcome = count(n, &ballots);
        if let Decision::Winner(w) = outcome.decision {
            let beats = |o: OptionIndex| {
                ballots.iter().filter(|b| prefers(b, w, o)).count() > ballots.iter().filter(|b| prefers(b, o, w)).count()
            };
            let last = outcome.rounds.last().unwrap();
            for &o in last.continuing.iter().filter(|&&o| o != w) {
                prop_assert!(beats(o), "{w} won against {o}, still in the count, without beating it");
            }
            if (0..n as OptionIndex).filter(|&o| o != w).all(|o| !beats(o)) && n > 1 {
                prop_assert_eq!(&last.continuing, &vec![w]);
                let before = &outcome.rounds[outcome.rounds.len() - 2];
                prop_assert!(before.eliminated.len() >= 2, "only a joint elimination leaves it alone");
            }
        }
    }

    /// A first-preference majority wins both counts, in one round.
    #[test]
    fn a_majority_winner_wins_both_counts((n, ballots) in poll()) {
        let firsts = plurality::count(n, &ballots);
        if let Some(w) = (0..n).find(|&o| 2 * firsts.tallies[o] > ballots.len() as u64) {
            let outcome = count(n, &ballots);
            prop_assert_eq!(&outcome.decision, &Decision::Winner(w as OptionIndex));
            prop_assert_eq!(firsts.decision, Decision::Winner(w as OptionIndex));
            prop_assert_eq!(outcome.rounds.len(), 1);
        }
    }
}
