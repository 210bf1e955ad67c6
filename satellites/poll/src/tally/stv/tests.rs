//! STV against the reference tabulator's counts of the PR Foundation's Reference Meek Rule
//! (the `droop` package's `meek-prf` reports), instant-runoff equivalence with one seat, and
//! properties: proportionality for solid blocks, independence of ballot and option order.

use proptest::prelude::*;

use super::{Fixed, ONE, StvOutcome, count};
use crate::tally::irv;
use crate::tally::plurality::tests::shuffle;
use crate::tally::{OptionIndex, Outcome, Round};

/// A decimal with 9 places, as the reference reports print votes.
fn fixed(text: &str) -> Fixed {
    let (whole, fraction) = text.split_once('.').unwrap();
    whole.parse::<Fixed>().unwrap() * ONE + fraction.parse::<Fixed>().unwrap()
}

/// Ballots in BLT notation (candidates from 1), one ballot each.
fn blt(lines: &[&str]) -> Vec<(Vec<OptionIndex>, u64)> {
    lines.iter().map(|l| (l.split_whitespace().map(|c| c.parse::<OptionIndex>().unwrap() - 1).collect(), 1)).collect()
}

fn groups(list: &[(u64, &[OptionIndex])]) -> Vec<(Vec<OptionIndex>, u64)> {
    list.iter().map(|&(n, r)| (r.to_vec(), n)).collect()
}

/// droop's `42.blt`: Castor 4 (then Pollux), Helen 2; two seats. Castor is elected at once;
/// his surplus goes to Pollux at keep factor 0.500000001, leaving Pollux 0.000000004 short of
/// Helen, so Pollux is defeated and Helen elected.
#[test]
fn castor_pollux_helen_as_the_reference_counts_it() {
    let outcome = count(3, 2, &groups(&[(4, &[0, 1]), (2, &[2])]));
    assert_eq!(outcome.elected, [0, 2]);
    assert!(outcome.tied.is_empty());
    let [first, second, last] = &outcome.stages[..] else { panic!("{outcome:?}") };
    assert_eq!(
        (first.quota, &first.votes, &first.elected),
        (fixed("2.000000001"), &vec![4 * ONE, 0, 2 * ONE], &vec![0])
    );
    assert_eq!(second.votes, [fixed("2.000000004"), fixed("1.999999996"), fixed("2.0")]);
    assert_eq!((second.quota, &second.eliminated, second.iterations), (fixed("2.000000001"), &vec![1], 2));
    assert_eq!((&last.elected, &last.hopeful), (&vec![2], &vec![2]));
}

/// droop's `513.blt`: the same with 5, 1 and 3 ballots; the reference's keep factor of Castor
/// is 0.600000001 and Pollux falls 0.000000005 short of Helen.
#[test]
fn the_reference_keep_factor_is_rounded_up() {
    let outcome = count(3, 2, &groups(&[(5, &[0, 1]), (1, &[1]), (3, &[2])]));
    assert_eq!(outcome.elected, [0, 2]);
    assert_eq!(outcome.stages[1].votes, [fixed("3.000000005"), fixed("2.999999995"), fixed("3.0")]);
    assert_eq!(outcome.stages[1].eliminated, [1]);
}

/// The Green Party of the United States' Steering Committee election of 24 July 2005 (4 seats,
/// 94 ballots, 13 candidates), as droop's `SC.blt` carries it, against droop's `meek-prf`
/// report. The reference draws lots among the four candidates with no vote; this count
/// defeats them together, which moves no vote, so every later round matches the reference's.
#[test]
fn green_party_steering_committee_2005_matches_the_reference_report() {
    #[rustfmt::skip]
    let ballots = blt(&[
    "7 8 9 11 12", "7 8 9 11 12", "13 7 5 4 2 1", "5 13 2 7 4 1", "13 4 1 2", "4 2 13 1 3", "4 13 2 7", "7 8 12 1
    13 9 2 4 11 5", "1 13 3 4 7 5 2", "4 1 13 7 3 5 2", "4 1 13 7 3 5 2", "1 4 13 2 7 5 3 9 8 12 11", "7 1 8 9 13
    3 2 4 12 5 11", "7 8 9 11 12", "7 1 8 9 13 3 2 4 12 5 11", "7 8 9 11 12", "7 8 9 11 12", "7 8 9 11 12", "5 1
    13 3 2 4 7", "7 8 9 3 12 2 13 5 1 4", "3 13 1 2", "3 13 1 2", "4 7 13 5", "4 5 13 3 2 1", "7 8 9 11 12", "7 9
    8 12 11 2 13", "7 8 9 11 12", "7 8 9 11 12", "4 3 13 1", "4 3 13 1", "13 3 4 1 7 2 5", "3 13 4 1 7 2 5", "13 3
    4 1 2 5 7", "13 1 4 2 5 3 7", "13 4 3 1 2 5", "3 13 1 4 2 7 5", "4 3 13 8", "4 3 13 1", "1 4 13 7", "1 4 13
    7", "7 3 4 13 1 5", "9 11 8 7", "7 8 9 11 12", "13 3 5 2", "4 5 2 3 13", "13 5 2 4 1 3 7", "13 5 2 1 7 3 8",
    "7 8 9 12 11", "7 8 4 9 12", "13 4 7 2 8", "4 13 2 7 1 8", "7 8 11 9 12", "8 4 7 11 13 9", "7 4 2 13", "13 1 7
    4", "4 1 2 13 9 5", "1 4 13 5 3 2", "7 5 4 8 11 2 13 1 3 9 12", "4 8 7 5 13 2 1 3 9", "3 4 7 2 12 13 8 1 5",
    "7 8 9 11 12", "7 8 11 9", "7 8 11 9", "7 8 9 11 12", "7 8 9 11 12", "7 8 9 11 12", "13 2 4 7 5 1", "7 8 9 11
    12", "7 8 9 11", "7 8 9 11 12", "2 7 8 12 13 11 1 5 9", "4 7 8 2", "4 13 5 2 1 3", "13 4 7 3 1 5 8 2 9", "4 3
    13 1 7", "13 4 1 3", "4 1 13 3 2 7 8", "2 4 13 5", "2 3 4 1 13 7", "3 1 4 13", "4 3 1 2 11", "3 1 4 13 2 7",
    "4 1 2 8 3", "4 1 5 13 2 3", "4 1 5 13 2 3", "7 8 9 11 12", "7 8 9 11 12", "13 7 3 2 5 4 1", "13 5 7 2 4 1",
    "7 8 9 11 12", "1 13 3 7 2 4 5", "13 1 2 7 4 5 3", "13 1 2 7 4 5 3", "3 1 4 2 13 7 9 5 8",
    ]);
    let outcome = count(13, 4, &ballots);
    let (dickinson, mookerjee, sevigny, lamarche, piacsek, rotzler, olsen, jones, kramer) =
        (0, 1, 2, 3, 4, 6, 7, 8, 12);
    assert_eq!(outcome.elected, [rotzler, lamarche, kramer, olsen]);
    assert!(outcome.tied.is_empty());
    let defeated: Vec<Vec<OptionIndex>> = outcome.stages.iter().map(|s| s.eliminated.clone()).collect();
    assert_eq!(
        defeated,
        [vec![], vec![5, 9, 10, 11], vec![jones], vec![piacsek], vec![], vec![mookerjee], vec![dickinson], vec![]]
    );
    let votes = |stage: usize, o: OptionIndex| outcome.stages[stage].votes[usize::from(o)];
    // Round 2 of the reference (its rounds 2 to 5 are this count's round 2).
    assert_eq!(votes(1, kramer), fixed("18.556796080"));
    assert_eq!(votes(1, lamarche), fixed("18.800000609"));
    assert_eq!(votes(1, rotzler), fixed("18.800000299"));
    assert_eq!(votes(1, olsen), fixed("13.000470959"));
    // Round 8 of the reference: Kramer elected.
    assert_eq!(outcome.stages[4].elected, [kramer]);
    assert_eq!(votes(4, kramer), fixed("19.718851196"));
    assert_eq!(votes(4, lamarche), fixed("19.165213770"));
    // Round 10: quota 18.789719295 (ballots exhausted lower it), Dickinson defeated.
    assert_eq!(outcome.stages[6].quota, fixed("18.789719295"));
    assert_eq!(votes(6, dickinson), fixed("10.204118384"));
    assert_eq!(outcome.stages[6].exhausted, fixed("0.051403528"));
    // Round 11: Olsen elected, the last seat.
    let last = &outcome.stages[7];
    assert_eq!(last.quota, fixed("18.586296861"));
    assert_eq!(last.elected, [olsen]);
    assert_eq!(
        [votes(7, lamarche), votes(7, rotzler), votes(7, olsen), votes(7, kramer), votes(7, sevigny)],
        [
            fixed("19.087429756"),
            fixed("19.073682122"),
            fixed("19.085721549"),
            fixed("19.202438090"),
            fixed("16.482212783")
        ]
    );
    assert_eq!(last.exhausted, fixed("1.068515700"));
}

/// A textbook case (Wikipedia, "Single transferable vote": the food election). 20 voters, 3
/// seats, Meek quota 5.000000001: Chocolate is elected first with 12; Oranges and Strawberries
/// take the other two seats, as in the article's count.
#[test]
fn wikipedia_food_election_elects_chocolate_oranges_and_strawberries() {
    let (oranges, pears, chocolate, strawberries, sweets) = (0, 1, 2, 3, 4);
    let outcome = count(
        5,
        3,
        &groups(&[
            (4, &[oranges]),
            (2, &[pears, oranges]),
            (8, &[chocolate, strawberries]),
            (4, &[chocolate, sweets]),
            (1, &[strawberries]),
            (1, &[sweets]),
        ]),
    );
    let mut elected = outcome.elected.clone();
    elected.sort_unstable();
    assert_eq!(elected, [oranges, chocolate, strawberries]);
    assert_eq!(outcome.elected[0], chocolate);
    assert_eq!(outcome.stages[0].quota, fixed("5.000000001"));
}

#[test]
fn blank_ballots_are_exhausted_from_the_first_round_and_lower_the_quota() {
    let outcome = count(3, 2, &groups(&[(6, &[0]), (3, &[1]), (2, &[2]), (4, &[])]));
    assert_eq!(outcome.ballots, 15);
    assert_eq!(outcome.stages[0].exhausted, 4 * ONE);
    assert_eq!(outcome.stages[0].quota, fixed("3.666666667"));
    assert_eq!(outcome.elected, [0, 1]);
}

#[test]
fn every_hopeful_equal_ties_them_for_the_seats_left() {
    let outcome = count(4, 2, &groups(&[(6, &[0]), (2, &[1]), (2, &[2]), (2, &[3])]));
    assert_eq!(outcome.elected, [0]);
    assert_eq!(outcome.tied, [1, 2, 3]);
}

#[test]
fn fewer_candidates_than_seats_elects_them_all() {
    let outcome = count(2, 3, &groups(&[(2, &[0]), (1, &[1])]));
    assert_eq!(outcome.elected, [0, 1]);
    assert_eq!(outcome.stages.len(), 1);
}

/// The instant-runoff reading of a one-seat count, in [`Outcome`] terms.
fn as_irv(outcome: &StvOutcome) -> Outcome {
    let whole = |v: Fixed| {
        assert_eq!(v % ONE, 0, "one seat keeps whole votes");
        v / ONE
    };
    let rounds: Vec<Round> = outcome
        .stages
        .iter()
        .map(|s| Round {
            tallies: s.votes.iter().map(|&v| whole(v)).collect(),
            continuing: s.hopeful.clone(),
            exhausted: whole(s.exhausted),
            eliminated: s.eliminated.clone(),
        })
        .collect();
    let last = rounds.last().unwrap().clone();
    Outcome {
        decision: outcome.decision(),
        tallies: last.tallies,
        ballots: outcome.ballots,
        exhausted: last.exhausted,
        rounds,
    }
}

/// Up to `max` options and 60 ballots, each a ranking of 0 to all options.
fn poll(max: usize) -> impl Strategy<Value = (usize, Vec<Vec<OptionIndex>>)> {
    (2usize..=max).prop_flat_map(|n| {
        let ballot = (Just((0..n as OptionIndex).collect::<Vec<_>>()).prop_shuffle(), 0..=n)
            .prop_map(|(order, len)| order[..len].to_vec());
        (Just(n), prop::collection::vec(ballot, 0..60))
    })
}

fn ones(ballots: &[Vec<OptionIndex>]) -> Vec<(Vec<OptionIndex>, u64)> {
    ballots.iter().map(|b| (b.clone(), 1)).collect()
}

/// The elected set and the tie, in option order.
fn who(outcome: &StvOutcome) -> (Vec<OptionIndex>, Vec<OptionIndex>) {
    let mut elected = outcome.elected.clone();
    elected.sort_unstable();
    (elected, outcome.tied.clone())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn one_seat_is_exactly_instant_runoff((n, ballots) in poll(7)) {
        prop_assert_eq!(as_irv(&count(n, 1, &ones(&ballots))), irv::count(n, &ballots));
    }

    #[test]
    fn ballot_order_and_grouping_do_not_matter((n, ballots) in poll(7), seats in 1usize..4, seed in any::<u64>()) {
        let mut shuffled = ballots.clone();
        shuffle(&mut shuffled, seed);
        let mut grouped: std::collections::BTreeMap<Vec<OptionIndex>, u64> = Default::default();
        for b in &ballots {
            *grouped.entry(b.clone()).or_default() += 1;
        }
        let grouped: Vec<(Vec<OptionIndex>, u64)> = grouped.into_iter().collect();
        let outcome = count(n, seats, &ones(&ballots));
        prop_assert_eq!(&count(n, seats, &ones(&shuffled)), &outcome);
        prop_assert_eq!(&count(n, seats, &grouped), &outcome);
    }

    #[test]
    fn option_order_does_not_change_who_is_elected((n, ballots) in poll(7), seats in 1usize..4, seed in any::<u64>()) {
        let mut map: Vec<OptionIndex> = (0..n as OptionIndex).collect();
        shuffle(&mut map, seed);
        let renamed: Vec<Vec<OptionIndex>> =
            ballots.iter().map(|b| b.iter().map(|&o| map[usize::from(o)]).collect()).collect();
        let (elected, tied) = who(&count(n, seats, &ones(&ballots)));
        let mut moved: Vec<OptionIndex> = elected.iter().map(|&o| map[usize::from(o)]).collect();
        moved.sort_unstable();
        let mut moved_tie: Vec<OptionIndex> = tied.iter().map(|&o| map[usize::from(o)]).collect();
        moved_tie.sort_unstable();
        prop_assert_eq!(who(&count(n, seats, &ones(&renamed))), (moved, moved_tie));
    }

    /// Droop proportionality: when more than j quotas' worth of voters (j x ballots / (seats +
    /// 1)) put the same j or more candidates at the top, in any order, at least j of those are
    /// elected (or left tied for a seat).
    #[test]
    fn a_solid_block_of_j_quotas_elects_j_of_its_candidates(
        (n, others) in poll(8),
        seats in 2usize..5,
        block_size in 1usize..4,
        voters in 1usize..80,
        seed in any::<u64>(),
    ) {
        let block: Vec<OptionIndex> = (0..block_size.min(n) as OptionIndex).collect();
        let total = voters + others.len();
        let j = (0..=block.len().min(seats)).rev().find(|&j| voters * (seats + 1) > j * total).unwrap_or(0);
        prop_assume!(j > 0);
        let mut ballots: Vec<Vec<OptionIndex>> = (0..voters as u64)
            .map(|v| {
                let mut top = block.clone();
                shuffle(&mut top, seed ^ v);
                top
            })
            .collect();
        ballots.extend(others);
        let outcome = count(n, seats, &ones(&ballots));
        let ours = outcome.elected.iter().chain(&outcome.tied).filter(|o| block.contains(o)).count();
        prop_assert!(ours >= j, "{} of the block's candidates, {} quotas: {:?}", ours, j, outcome);
    }

    /// Every round accounts for every ballot: votes plus exhausted is the number of ballots.
    #[test]
    fn every_round_accounts_for_every_ballot((n, ballots) in poll(7), seats in 1usize..4) {
        let outcome = count(n, seats, &ones(&ballots));
        for stage in &outcome.stages {
            prop_assert_eq!(stage.votes.iter().sum::<Fixed>() + stage.exhausted, ballots.len() as u64 * ONE);
        }
        prop_assert!(outcome.elected.len() <= seats);
        prop_assert!(outcome.elected.len() + outcome.tied.len() >= seats.min(n));
    }
}
