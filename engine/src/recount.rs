//! `vote-engine recount`: recomputes every law's totals from `vote_audit` (the votes counted,
//! one row each) and compares them with `vote_results` (the running totals the engine keeps
//! beside them). Each difference is printed; the outcome is recorded in `recount_runs` when
//! the role may write there, and the run says so when it may not (a read-only role is enough
//! to recount).
//!
//! Exit codes: 0 the totals agree, 1 they differ, 2 bad settings (from the command line), 3
//! the recount could not run (database unreachable, tables missing).

use std::io::Write;
use std::process::ExitCode;

use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use vote_runtime::postgres::{DbTarget, describe};

const RECOUNT: &str = include_str!("../../sql/engine/queries/recount.sql");
const RECORD_RECOUNT: &str = include_str!("../../sql/engine/queries/record_recount.sql");

/// Exit code when the recount could not run.
pub const CANNOT_RECOUNT_EXIT_CODE: u8 = 3;

/// One law's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Yes votes.
    pub oui: i64,
    /// No votes.
    pub non: i64,
}

/// A law whose stored totals are not what its audit rows add up to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The law.
    pub law_id: String,
    /// What `vote_results` says (`None`: no row for the law).
    pub stored: Option<Counts>,
    /// What `vote_audit` adds up to.
    pub recounted: Counts,
}

/// What a recount found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recount {
    /// Laws present in either table.
    pub laws_checked: i64,
    /// Rows of `vote_audit` counted.
    pub votes_checked: i64,
    /// Laws that differ.
    pub differences: Vec<Difference>,
}

impl Recount {
    /// Whether every law agrees.
    pub fn agreed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Recounts every law, or only `law`, at one snapshot.
pub async fn recount(client: &tokio_postgres::Client, law: Option<&str>) -> Result<Recount, tokio_postgres::Error> {
    let rows = client.query(RECOUNT, &[&law]).await?;
    let mut result = Recount { laws_checked: 0, votes_checked: 0, differences: Vec::new() };
    for row in rows {
        let recounted = Counts { oui: row.get("audit_oui"), non: row.get("audit_non") };
        let stored = Counts { oui: row.get("results_oui"), non: row.get("results_non") };
        let in_results: bool = row.get("in_results");
        result.laws_checked += 1;
        result.votes_checked += recounted.oui + recounted.non;
        if stored != recounted {
            result.differences.push(Difference {
                law_id: row.get("law_id"),
                stored: in_results.then_some(stored),
                recounted,
            });
        }
    }
    Ok(result)
}

/// Whether the outcome was stored in `recount_runs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Stored.
    Yes,
    /// Not stored, and why.
    No(String),
}

/// Stores the outcome in `recount_runs` if the role may.
pub async fn record(
    client: &tokio_postgres::Client,
    started_at: OffsetDateTime,
    law: Option<&str>,
    recount: &Recount,
) -> Recorded {
    let differences = recount.differences.len() as i64;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
        [&started_at, &law, &recount.laws_checked, &recount.votes_checked, &differences];
    match client.execute(RECORD_RECOUNT, &params).await {
        Ok(_) => Recorded::Yes,
        Err(e) => Recorded::No(match e.code() {
            Some(&SqlState::INSUFFICIENT_PRIVILEGE) => "this role may not write recount_runs".to_owned(),
            Some(&SqlState::UNDEFINED_TABLE) => {
                "recount_runs does not exist (apply the migrations: vote-engine migrate)".to_owned()
            }
            Some(&SqlState::READ_ONLY_SQL_TRANSACTION) => "the database is read-only (a standby?)".to_owned(),
            _ => describe(&e),
        }),
    }
}

/// Recounts (every law, or `law`), prints each difference and a summary to `out`, records the
/// outcome when allowed. `Ok(true)` when the totals agree.
pub async fn run(database: &DbTarget, law: Option<&str>, out: &mut dyn Write) -> anyhow::Result<bool> {
    let client = database.connect().await?;
    let started_at = OffsetDateTime::now_utc();
    let result = recount(&client, law).await.map_err(|e| anyhow::anyhow!("cannot recount: {}", describe(&e)))?;
    for difference in &result.differences {
        let stored = match difference.stored {
            Some(c) => format!("oui {} non {}", c.oui, c.non),
            None => "no row".to_owned(),
        };
        let recounted = difference.recounted;
        writeln!(
            out,
            "differs: law {:?}: vote_results {stored}, vote_audit oui {} non {}",
            difference.law_id, recounted.oui, recounted.non
        )?;
    }
    let scope = match law {
        Some(law) => format!("law {law:?}"),
        None => format!("{} laws", result.laws_checked),
    };
    let verdict = if result.agreed() {
        "vote_results agrees with vote_audit".to_owned()
    } else {
        format!("{} laws differ", result.differences.len())
    };
    writeln!(out, "recount of {scope}, {} votes in vote_audit: {verdict}", result.votes_checked)?;
    match record(&client, started_at, law, &result).await {
        Recorded::Yes => writeln!(out, "outcome recorded in recount_runs")?,
        Recorded::No(why) => writeln!(out, "outcome not recorded: {why}")?,
    }
    Ok(result.agreed())
}

/// The subcommand: exit code 0 when the totals agree, 1 when they differ,
/// [`CANNOT_RECOUNT_EXIT_CODE`] when the recount could not run.
pub async fn command(database: &DbTarget, law: Option<&str>) -> ExitCode {
    let mut stdout = std::io::stdout();
    match run(database, law, &mut stdout).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(CANNOT_RECOUNT_EXIT_CODE)
        }
    }
}
