//! Reading and writing both formats: examples, refusals with their line, and round trips.

use proptest::prelude::*;

use super::*;

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn identical_rankings_are_counted_once_most_ballots_first() {
    let ballots = [vec![1, 0], vec![0], vec![1, 0], vec![], vec![1, 0], vec![0]];
    let record = CastVoteRecord::new(None, None, names(&["A", "B"]), ballots.iter().map(|b| (b, 1)));
    assert_eq!(record.rankings, [(vec![1, 0], 3), (vec![0], 2), (vec![], 1)]);
    assert_eq!(record.ballots(), 6);
}

#[test]
fn abif_names_options_by_their_names_when_they_are_plain() {
    let record = CastVoteRecord::new(
        Some("Board".to_owned()),
        Some(Counting::Ranked { seats: 2 }),
        names(&["Alice", "Bob"]),
        [(vec![1, 0], 3), (vec![], 1)],
    );
    assert_eq!(
        record.to_abif(),
        "{version: \"0.1\"}\n{title: \"Board\"}\n{method: \"ranked\"}\n{seats: 2}\n=Alice:[Alice]\n=Bob:[Bob]\n3:Bob>Alice\n1:\n"
    );
    assert_eq!(parse_abif(&record.to_abif()).unwrap(), record);
}

#[test]
fn abif_numbers_options_whose_names_are_not_plain_and_quotes_awkward_ones() {
    let record = CastVoteRecord::new(
        None,
        Some(Counting::Plurality),
        names(&["Doña García", "x ] y # z", "B"]),
        [(vec![1], 2), (vec![0], 1)],
    );
    let text = record.to_abif();
    assert!(text.contains("=c1:[Doña García]\n=c2:\"x ] y # z\"\n=c3:[B]\n2:c2\n1:c1\n"), "{text}");
    assert_eq!(parse_abif(&text).unwrap(), record);
}

#[test]
fn abif_reads_the_formats_own_example_shapes() {
    let text = "# Case 21\n{version: \"0.1\"}\n{description: \"Weird election\"}\n\n=c001:[Doña García Márquez]\n=c002:[Steven B. Jensen]\n=c003:[Sue Ye (蘇業)]\n\n10:\n17: c001>c002>c003 # trailing\n26 : c002 > c001\n3: [Sue Ye (蘇業)]>c001\n";
    let record = parse_abif(text).unwrap();
    assert_eq!(record.options, ["Doña García Márquez", "Steven B. Jensen", "Sue Ye (蘇業)"]);
    assert_eq!(record.rankings, [(vec![1, 0], 26), (vec![0, 1, 2], 17), (vec![], 10), (vec![2, 0], 3)]);
    assert_eq!(record.counting, None);
}

#[test]
fn abif_refusals_name_the_line() {
    let cases = [
        ("=A:[A]\n=B:[B]\n3: A=B\n", "line 3: equal rankings"),
        ("=A:[A]\n=B:[B]\n3: A/5>B\n", "line 3: ratings"),
        ("=A:[A]\n=B:[B]\n3: A>A\n", "line 3: 'A' is ranked twice"),
        ("=A:[A]\n=B:[B]\n3 A\n", "line 3: a ballot line is"),
        ("=A:[A]\n=B:[B]\n-3: A\n", "line 3: '-3' is not an option token"),
        ("=A:[A]\n=B:[B]\n99999999999999999999: A\n", "line 3: a ballot count"),
        ("=A:[A]\n=B:[B]\n3: A>>B\n", "line 3: an empty preference"),
        ("{seats: 0}\n=A:[A]\n=B:[B]\n", "line 1: 'seats' must be from 1"),
        ("{method: \"borda\"}\n=A:[A]\n=B:[B]\n", "line 0: method 'borda'"),
        ("=A:[A]\n1: A\n", "line 0: a record needs at least 2 options"),
        ("{title: unquoted}\n", "line 1: 'title' must be a quoted string"),
        ("=A:[A]\n=B:[B]\n999999999:A\n999999999:B\n", "line 4: more than 1000000000 ballots"),
    ];
    for (text, expected) in cases {
        let error = parse_abif(text).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{text:?}: {error}");
    }
}

#[test]
fn csv_gives_every_option_a_column_and_each_ranking_a_row() {
    let record =
        CastVoteRecord::new(None, None, names(&["Alice", "Bob, Jr.", "Carol"]), [(vec![2, 0], 4), (vec![], 1)]);
    assert_eq!(record.to_csv(), "count,Alice,\"Bob, Jr.\",Carol\r\n4,2,,1\r\n1,,,\r\n");
    assert_eq!(parse_csv(&record.to_csv()).unwrap(), record);
}

#[test]
fn csv_refusals_name_the_line() {
    let cases = [
        ("", "line 1: empty file"),
        ("votes,A,B\n", "line 1: the header must start with 'count'"),
        ("count,A,A\n", "line 1: the option 'A' is named twice"),
        ("count,A\n", "line 1: a record names from 2"),
        ("count,A,B\n3,1\n", "line 2: 2 cells, the header has 3"),
        ("count,A,B\n3,1,1\n", "line 2: the ranks of a row must be 1, 2, 3"),
        ("count,A,B\n3,2,\n", "line 2: the ranks of a row must be 1, 2, 3"),
        ("count,A,B\n3,first,\n", "line 2: the rank of 'A'"),
        ("count,A,B\n-1,1,\n", "line 2: the count must be a whole number"),
        ("count,A,B\n18446744073709551615,1,\n1,,1\n", "line 2: more than 1000000000 ballots"),
    ];
    for (text, expected) in cases {
        let error = parse_csv(text).unwrap_err().to_string();
        assert!(error.starts_with(expected), "{text:?}: {error}");
    }
}

fn record() -> impl Strategy<Value = CastVoteRecord> {
    let name = prop_oneof![
        "[A-Za-z][A-Za-z0-9_]{0,8}",
        "[^\\u{0}-\\u{1f}\\u{7f}]{1,12}".prop_filter("trimmed, not blank", |s| s.trim() == s && !s.is_empty()),
    ];
    (prop::collection::hash_set(name, 2..8), any::<bool>(), 1usize..4).prop_flat_map(|(options, plurality, seats)| {
        let options: Vec<String> = options.into_iter().collect();
        let n = options.len();
        let ranking = (Just((0..n as OptionIndex).collect::<Vec<_>>()).prop_shuffle(), 0..=n)
            .prop_map(|(order, len)| order[..len].to_vec());
        let counting = if plurality { Counting::Plurality } else { Counting::Ranked { seats } };
        prop::collection::vec((ranking, 1u64..1000), 0..30).prop_map(move |ballots| {
            CastVoteRecord::new(Some("t".to_owned()), Some(counting), options.clone(), ballots)
        })
    })
}

proptest! {
    #[test]
    fn abif_reads_back_what_it_writes(record in record()) {
        prop_assert_eq!(parse_abif(&record.to_abif()).unwrap(), record);
    }

    #[test]
    fn csv_reads_back_what_it_writes(record in record()) {
        let back = parse_csv(&record.to_csv()).unwrap();
        prop_assert_eq!(back, CastVoteRecord { title: None, counting: None, ..record });
    }
}
