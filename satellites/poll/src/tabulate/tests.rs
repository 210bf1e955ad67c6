//! Recounts of real elections from their published cast-vote records, against their official
//! round-by-round results (sources, licences and conversions in
//! `tests/data/elections/README.md`), and the report's shape.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize)]
struct Expected {
    ballots: u64,
    winner: String,
    rounds: Vec<ExpectedRound>,
}

#[derive(Debug, Deserialize)]
struct ExpectedRound {
    round: u32,
    tally: BTreeMap<String, u64>,
    exhausted: u64,
}

/// Counts `abif` and compares with every official round whose options still in the count
/// this count also reaches (a jurisdiction that eliminates several options at once skips the
/// rounds in between; the tallies of a round depend only on which options are still in).
/// Returns the official rounds matched.
fn recount(abif: &str, expected: &str) -> Vec<u32> {
    let record = cvr::parse_abif(abif).unwrap();
    let expected: Expected = serde_json::from_str(expected).unwrap();
    let results = count(&record, None, None).unwrap();
    assert_eq!(results.ballots, expected.ballots);
    assert_eq!(results.winner.as_deref(), Some(expected.winner.as_str()));
    let mut matched = Vec::new();
    for official in &expected.rounds {
        let ours = results.rounds.iter().find(|r| {
            r.tallies.len() == official.tally.len() && r.tallies.iter().all(|t| official.tally.contains_key(&t.option))
        });
        let Some(ours) = ours else { continue };
        let tally: BTreeMap<String, u64> = ours.tallies.iter().map(|t| (t.option.clone(), t.votes.floor())).collect();
        assert_eq!(tally, official.tally, "official round {}", official.round);
        assert_eq!(ours.exhausted.floor(), official.exhausted, "official round {}", official.round);
        matched.push(official.round);
    }
    matched
}

/// 105,928 ballots. The city eliminates undeclared write-ins first and then 13 candidates at
/// once; every other round is matched.
#[test]
fn minneapolis_2017_mayor_matches_the_official_rounds() {
    let matched = recount(
        include_str!("../../tests/data/elections/minneapolis_2017_mayor.abif"),
        include_str!("../../tests/data/elections/minneapolis_2017_mayor.expected.json"),
    );
    assert_eq!(matched, [1, 3, 4, 5, 6]);
}

/// 80,101 ballots, 35 candidates and undeclared write-ins, 33 official rounds. The official
/// count eliminates the undeclared write-ins first although 8 candidates had fewer votes, so
/// its rounds 2 to 9 have sets of candidates this count never has; from round 10 on, when
/// those are out in both counts, every round matches.
#[test]
fn minneapolis_2013_mayor_matches_the_official_rounds() {
    let matched = recount(
        include_str!("../../tests/data/elections/minneapolis_2013_mayor.abif"),
        include_str!("../../tests/data/elections/minneapolis_2013_mayor.expected.json"),
    );
    assert_eq!(matched, [1].into_iter().chain(10..=33).collect::<Vec<u32>>());
}

/// 8,980 ballots; the first-round leader (Wright) loses to Kiss.
#[test]
fn burlington_2009_mayor_matches_the_official_rounds() {
    let matched = recount(
        include_str!("../../tests/data/elections/burlington_2009_mayor.abif"),
        include_str!("../../tests/data/elections/burlington_2009_mayor.expected.json"),
    );
    assert_eq!(matched, [1, 2, 3]);
}

#[test]
fn the_report_shows_each_round_with_its_transfers() {
    let record = cvr::parse_abif(include_str!("../../tests/data/elections/burlington_2009_mayor.abif")).unwrap();
    let text = report(record.title.as_deref(), &count(&record, None, None).unwrap());
    assert!(
        text.starts_with("2009 Burlington, Vermont, mayoral election\n8980 ballots, instant_runoff, 1 seat\n"),
        "{text}"
    );
    let has = |words: &[&str]| text.lines().any(|l| l.split_whitespace().eq(words.iter().copied()));
    assert!(has(&["Round", "5"]), "{text}");
    assert!(has(&["Bob", "Kiss", "4313", "+1332", "elected"]), "{text}");
    assert!(has(&["James", "Simpson", "35", "eliminated"]), "{text}");
    assert!(has(&["exhausted", "606"]), "{text}");
    assert!(text.ends_with("Elected: Bob Kiss\n"), "{text}");
}

#[test]
fn the_command_line_overrides_the_file_and_refuses_what_cannot_be_counted() {
    let record =
        cvr::parse_abif("{method: \"ranked\"}\n{seats: 2}\n=A:[A]\n=B:[B]\n=C:[C]\n4:A>B\n3:C\n2:B\n").unwrap();
    assert_eq!(count(&record, None, None).unwrap().method, Method::MeekStv);
    assert_eq!(count(&record, None, Some(1)).unwrap().method, Method::InstantRunoff);
    let refused = |method, seats| count(&record, method, seats).unwrap_err().message;
    assert_eq!(refused(None, Some(4)), "error: 4 seats but 3 options");
    assert_eq!(
        refused(Some(MethodArg::Plurality), Some(1)),
        "error: a plurality count takes one choice per ballot; this file ranks several"
    );
    assert_eq!(
        refused(Some(MethodArg::Plurality), None),
        "error: plurality fills one seat: several seats need a ranked count"
    );
}
