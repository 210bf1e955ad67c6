//! `poll-service tabulate FILE [--format abif|csv] [--seats N] [--method plurality|ranked]
//! [--json]`: an independent recount. It reads a cast-vote record (a poll's export, or any
//! ABIF or CSV file), counts it with the code that counts a poll at its close
//! ([`PollResults::tabulate`]), and prints the round-by-round report, or with `--json` the
//! results exactly as `GET /polls/{uuid}/results` serves them. Exit code 0, or 2 with one line
//! saying what is wrong with the command or the file.

use std::ffi::OsString;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{CommandFactory, Parser, ValueEnum};
use vote_runtime::cli::{self, Exit};

use crate::cvr::{self, CastVoteRecord, Counting};
use crate::results::{Method, PollResults};

/// The subcommand's name, after the binary's.
pub const SUBCOMMAND: &str = "tabulate";

/// The file's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aggregated Ballot Information Format.
    Abif,
    /// `count,<option>,...` with each option's rank.
    Csv,
}

/// How to count, when the file does not say (or to override it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// One choice per ballot: the most votes win.
    Plurality,
    /// Rankings: instant runoff for one seat, STV (Meek) for several.
    Ranked,
}

/// Counts a cast-vote record with the poll-service's own count.
#[derive(Debug, Parser)]
#[command(name = "poll-service tabulate", version)]
struct Args {
    /// The cast-vote record (`GET /polls/<uuid>/ballots?format=abif|csv`, or any such file).
    file: PathBuf,
    /// abif or csv; by default from the file's extension.
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Seats to fill (more than 1: STV); by default the file's `seats`, else 1.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    seats: Option<u32>,
    /// plurality or ranked; by default the file's `method`, else ranked.
    #[arg(long, value_enum)]
    method: Option<MethodArg>,
    /// Print the results as JSON (as the poll-service serves them) instead of the report.
    #[arg(long)]
    json: bool,
}

/// Whether `args` (program name first) ask for this subcommand.
pub fn asked<A: AsRef<std::ffi::OsStr>>(args: &[A]) -> bool {
    args.get(1).is_some_and(|a| a.as_ref() == SUBCOMMAND)
}

/// Runs the subcommand: `args` are the binary's, program name first, then `tabulate`.
/// Returns what to print on stdout, or the [`Exit`] to report.
pub fn run(args: Vec<OsString>) -> Result<String, Exit> {
    let args: Args = cli::parse(Args::command(), args.into_iter().skip(1))?;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|e| Exit::invalid(format!("cannot read {}: {e}", args.file.display())))?;
    let format = match args.format {
        Some(format) => format,
        None => match args.file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
            Some("abif") => Format::Abif,
            Some("csv") => Format::Csv,
            _ => return Err(Exit::invalid("--format abif|csv is needed: the file's extension does not say")),
        },
    };
    let record = match format {
        Format::Abif => cvr::parse_abif(&text),
        Format::Csv => cvr::parse_csv(&text),
    }
    .map_err(|e| Exit::invalid(format!("{}: {e}", args.file.display())))?;
    let results = count(&record, args.method, args.seats)?;
    if args.json {
        serde_json::to_string_pretty(&results).map(|s| s + "\n").map_err(Exit::invalid)
    } else {
        Ok(report(record.title.as_deref(), &results))
    }
}

/// Counts `record` as the file says, unless `method` or `seats` override it.
pub fn count(record: &CastVoteRecord, method: Option<MethodArg>, seats: Option<u32>) -> Result<PollResults, Exit> {
    let from_file = record.counting;
    let plurality = match (method, from_file) {
        (Some(m), _) => m == MethodArg::Plurality,
        (None, Some(Counting::Plurality)) => true,
        (None, _) => false,
    };
    let file_seats = match from_file {
        Some(Counting::Ranked { seats }) => u32::try_from(seats).unwrap_or(1),
        _ => 1,
    };
    let seats = seats.unwrap_or(file_seats);
    if plurality && seats > 1 {
        return Err(Exit::invalid("plurality fills one seat: several seats need a ranked count"));
    }
    if usize::try_from(seats).unwrap_or(usize::MAX) > record.options.len() {
        return Err(Exit::invalid(format!("{seats} seats but {} options", record.options.len())));
    }
    if plurality && record.rankings.iter().any(|(r, _)| r.len() > 1) {
        return Err(Exit::invalid("a plurality count takes one choice per ballot; this file ranks several"));
    }
    let method = if plurality { Method::Plurality } else { Method::of(crate::domain::PollType::Ranked, seats) };
    Ok(PollResults::tabulate(method, seats, &record.options, &record.rankings))
}

/// The round-by-round report: each round's votes per option, what changed since the round
/// before (the transfers), the exhausted ballots, who was elected or eliminated.
pub fn report(title: Option<&str>, results: &PollResults) -> String {
    let mut out = String::new();
    if let Some(title) = title {
        let _ = writeln!(out, "{title}");
    }
    let _ = writeln!(
        out,
        "{} ballots, {}, {} seat{}",
        results.ballots,
        results.method.as_str(),
        results.seats,
        if results.seats == 1 { "" } else { "s" }
    );
    let width = results.tallies.iter().map(|t| t.option.chars().count()).max().unwrap_or(0).max(9);
    let mut before: Option<&crate::results::RoundResult> = None;
    for round in &results.rounds {
        let _ = write!(out, "\nRound {}", round.round);
        if let Some(quota) = round.quota {
            let _ = write!(out, " (quota {quota})");
        }
        out.push('\n');
        let previous =
            |option: &str| before.and_then(|b| b.tallies.iter().find(|t| t.option == option)).map(|t| t.votes);
        for t in &round.tallies {
            let _ = write!(out, "  {:<width$}  {:>20}", t.option, t.votes.to_string());
            if let Some(p) = previous(&t.option)
                && p != t.votes
            {
                let (sign, d) = if t.votes > p { ('+', t.votes.0 - p.0) } else { ('-', p.0 - t.votes.0) };
                let _ = write!(out, "  {sign}{}", crate::results::Votes(d));
            }
            if round.elected.contains(&t.option) {
                out.push_str("  elected");
            }
            if round.eliminated.contains(&t.option) {
                out.push_str("  eliminated");
            }
            out.push('\n');
        }
        let _ = writeln!(out, "  {:<width$}  {:>20}", "exhausted", round.exhausted.to_string());
        before = Some(round);
    }
    if results.rounds.is_empty() {
        for t in &results.tallies {
            let _ = writeln!(out, "  {:<width$}  {:>20}", t.option, t.votes.to_string());
        }
    }
    out.push('\n');
    if !results.elected.is_empty() {
        let _ = writeln!(out, "Elected: {}", results.elected.join(", "));
    }
    if !results.tied.is_empty() {
        let _ = writeln!(out, "Tied: {}", results.tied.join(", "));
    }
    out
}

#[cfg(test)]
mod tests;
