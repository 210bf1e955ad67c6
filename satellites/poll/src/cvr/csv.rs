//! CSV reading and writing (RFC 4180, by the `csv` crate): a header `count,<option>,...`, then
//! one row per ranking with each option's rank (1 = most preferred) or an empty cell. Ranks
//! of a row are 1, 2, ... without a gap or a repeat; a row without ranks is a blank ballot.

use super::{CastVoteRecord, CvrError, MAX_OPTIONS};
use crate::tally::OptionIndex;

/// The record as CSV text.
pub(super) fn write(record: &CastVoteRecord) -> String {
    let mut out = ::csv::WriterBuilder::new().terminator(::csv::Terminator::CRLF).from_writer(Vec::new());
    let header = std::iter::once("count").chain(record.options.iter().map(String::as_str));
    // Writing to memory cannot fail.
    let _ = out.write_record(header);
    for (ranking, n) in &record.rankings {
        let mut cells = vec![String::new(); record.options.len() + 1];
        cells[0] = n.to_string();
        for (rank, &o) in ranking.iter().enumerate() {
            cells[usize::from(o) + 1] = (rank + 1).to_string();
        }
        let _ = out.write_record(&cells);
    }
    String::from_utf8(out.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// Reads a CSV record.
pub fn parse(text: &str) -> Result<CastVoteRecord, CvrError> {
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = reader.records();
    let line = |e: &::csv::Error| e.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
    let header = match rows.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => return Err(CvrError::at(line(&e), format!("not CSV: {e}"))),
        None => return Err(CvrError::at(1, "empty file: expected the header count,<option>,...")),
    };
    if !header.get(0).is_some_and(|c| c.trim().eq_ignore_ascii_case("count")) {
        return Err(CvrError::at(1, "the header must start with 'count', then name every option"));
    }
    let mut options: Vec<String> = Vec::new();
    for name in header.iter().skip(1) {
        let name = crate::domain::option_name(name);
        if name.is_empty() {
            return Err(CvrError::at(1, "an option's name must not be empty"));
        }
        if options.iter().any(|o| o == name) {
            return Err(CvrError::at(1, format!("the option '{name}' is named twice")));
        }
        options.push(name.to_owned());
    }
    if !(2..=MAX_OPTIONS).contains(&options.len()) {
        return Err(CvrError::at(1, format!("a record names from 2 to {MAX_OPTIONS} options")));
    }
    let mut rankings: Vec<(Vec<OptionIndex>, u64)> = Vec::new();
    let mut ballots = 0;
    for row in rows {
        let row = row.map_err(|e| CvrError::at(line(&e), format!("not CSV: {e}")))?;
        let n = row.position().map_or(0, |p| usize::try_from(p.line()).unwrap_or(0));
        if row.len() != options.len() + 1 {
            return Err(CvrError::at(n, format!("{} cells, the header has {}", row.len(), options.len() + 1)));
        }
        let count: u64 = row[0].trim().parse().map_err(|_| CvrError::at(n, "the count must be a whole number"))?;
        super::add_ballots(&mut ballots, count, n)?;
        let mut ranked: Vec<(usize, OptionIndex)> = Vec::new();
        for (o, cell) in row.iter().skip(1).enumerate() {
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let rank: usize = cell.parse().map_err(|_| {
                CvrError::at(n, format!("the rank of '{}' must be a whole number or empty", options[o]))
            })?;
            ranked.push((rank, OptionIndex::try_from(o).unwrap_or(OptionIndex::MAX)));
        }
        ranked.sort_unstable();
        if ranked.iter().enumerate().any(|(i, (rank, _))| *rank != i + 1) {
            return Err(CvrError::at(n, "the ranks of a row must be 1, 2, 3, ... without a gap or a repeat"));
        }
        rankings.push((ranked.into_iter().map(|(_, o)| o).collect(), count));
    }
    Ok(CastVoteRecord::new(None, None, options, rankings))
}
