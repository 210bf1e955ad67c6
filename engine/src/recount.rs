//! `vote-engine recount`: decides again, by the counting rule ([`crate::rule`]), every vote the
//! engine recorded (`vote_audit`, the votes counted, plus `duplicate_attempts`, the votes not
//! counted), and compares each law's totals with `vote_results` (the running totals) and with
//! what `vote_audit` adds up to. All three are read at one snapshot. Each difference is printed;
//! the outcome is recorded in `recount_runs` when the role may write there, and the run says so
//! when it may not (a read-only role is enough to recount).
//!
//! Exit codes: 0 the totals agree, 1 they differ, 2 bad settings (from the command line), 3
//! the recount could not run (database unreachable, tables missing), 4 the law given with
//! `--law` is unknown (no row of it in any table).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::process::ExitCode;

use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use vote_runtime::postgres::{DbTarget, describe};

use crate::decode::{Choice, Vote};
use crate::rule::{RevoteRule, decide};

const RECOUNT: &str = include_str!("../../sql/engine/queries/recount.sql");
const RECORD_RECOUNT: &str = include_str!("../../sql/engine/queries/record_recount.sql");
const RECOUNT_VOTES: &str = include_str!("../../sql/engine/queries/recount_votes.sql");
const LINKED_LAWS: &str = include_str!("../../sql/engine/queries/linked_laws.sql");
const LAW_KNOWN: &str = include_str!("../../sql/engine/queries/law_known.sql");

/// Exit code when the recount could not run.
pub const CANNOT_RECOUNT_EXIT_CODE: u8 = 3;
/// Exit code when `--law` names a law the database has never seen.
pub const UNKNOWN_LAW_EXIT_CODE: u8 = 4;

/// One law's totals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    /// Yes votes.
    pub oui: i64,
    /// No votes.
    pub non: i64,
}

/// A law whose stored totals, audit rows and votes decided again do not all agree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The law.
    pub law_id: String,
    /// What `vote_results` says (`None`: no row for the law).
    pub stored: Option<Counts>,
    /// What the counting rule gives over every recorded vote of the law.
    pub recounted: Counts,
    /// What `vote_audit` adds up to.
    pub audited: Counts,
}

/// What a recount found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recount {
    /// Laws present in either table.
    pub laws_checked: i64,
    /// Rows of `vote_audit` counted.
    pub votes_checked: i64,
    /// Votes decided again by the rule (counted and not counted).
    pub votes_decided: i64,
    /// Laws that differ.
    pub differences: Vec<Difference>,
}

impl Recount {
    /// Whether every law agrees.
    pub fn agreed(&self) -> bool {
        self.differences.is_empty()
    }
}

/// Recounts every law, or only `law`, at one snapshot, deciding the votes by `rule`.
/// `Ok(None)`: `law` is unknown.
pub async fn recount(
    client: &tokio_postgres::Client,
    law: Option<&str>,
    rule: RevoteRule,
) -> Result<Option<Recount>, tokio_postgres::Error> {
    client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
    let result = recount_in_snapshot(client, law, rule).await;
    client.batch_execute("COMMIT").await?;
    result
}

async fn recount_in_snapshot(
    client: &tokio_postgres::Client,
    law: Option<&str>,
    rule: RevoteRule,
) -> Result<Option<Recount>, tokio_postgres::Error> {
    if let Some(law) = law
        && !client.query_one(LAW_KNOWN, &[&law]).await?.get::<_, bool>(0)
    {
        return Ok(None);
    }
    // One law's votes are decided together with those of every law they share a vote_hash
    // with (the rule ties them), found by following the hashes until no law is added.
    let laws: Option<Vec<String>> = match law {
        None => None,
        Some(law) => {
            let mut laws = BTreeSet::from([law.to_owned()]);
            loop {
                let list: Vec<&str> = laws.iter().map(String::as_str).collect();
                let found: Vec<String> = client.query(LINKED_LAWS, &[&list]).await?.iter().map(|r| r.get(0)).collect();
                let before = laws.len();
                laws.extend(found);
                if laws.len() == before {
                    break;
                }
            }
            Some(laws.into_iter().collect())
        }
    };
    let votes: Vec<Vote> = client.query(RECOUNT_VOTES, &[&laws]).await?.iter().map(vote_of).collect();
    let mut by_rule: BTreeMap<&str, Counts> = BTreeMap::new();
    for (vote, counted) in votes.iter().zip(decide(rule, &votes)) {
        let counts = by_rule.entry(vote.law_id.as_str()).or_insert(Counts { oui: 0, non: 0 });
        if counted {
            match vote.choice {
                Choice::Oui => counts.oui += 1,
                Choice::Non => counts.non += 1,
            }
        }
    }
    let rows = client.query(RECOUNT, &[&law]).await?;
    let mut result =
        Recount { laws_checked: 0, votes_checked: 0, votes_decided: votes.len() as i64, differences: Vec::new() };
    let zero = Counts { oui: 0, non: 0 };
    for row in rows {
        let law_id: String = row.get("law_id");
        let audited = Counts { oui: row.get("audit_oui"), non: row.get("audit_non") };
        let stored = Counts { oui: row.get("results_oui"), non: row.get("results_non") };
        let recounted = by_rule.get(law_id.as_str()).copied().unwrap_or(zero);
        let in_results: bool = row.get("in_results");
        result.laws_checked += 1;
        result.votes_checked += audited.oui + audited.non;
        if stored != recounted || audited != recounted {
            result.differences.push(Difference { law_id, stored: in_results.then_some(stored), recounted, audited });
        }
    }
    Ok(Some(result))
}

/// A vote read back from a table (columns vote_hash, citizen_id, law_id, choice, timestamp).
fn vote_of(row: &tokio_postgres::Row) -> Vote {
    let choice: &str = row.get(3);
    Vote {
        vote_hash: row.get(0),
        citizen_id: row.get(1),
        law_id: row.get(2),
        choice: if choice == "oui" { Choice::Oui } else { Choice::Non },
        timestamp: row.get(4),
    }
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

/// How a recount ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every law agrees.
    Agreed,
    /// Some law differs.
    Differs,
    /// The law asked for is unknown.
    UnknownLaw,
}

/// Recounts (every law, or `law`), prints each difference and a summary to `out`, records the
/// outcome when allowed.
pub async fn run(
    database: &DbTarget,
    law: Option<&str>,
    rule: RevoteRule,
    out: &mut dyn Write,
) -> anyhow::Result<Verdict> {
    let client = database.connect().await?;
    let started_at = OffsetDateTime::now_utc();
    let result = recount(&client, law, rule).await.map_err(|e| anyhow::anyhow!("cannot recount: {}", describe(&e)))?;
    let Some(result) = result else {
        writeln!(
            out,
            "unknown law {:?}: no row of it in vote_results, vote_audit or duplicate_attempts",
            law.unwrap_or_default()
        )?;
        return Ok(Verdict::UnknownLaw);
    };
    for difference in &result.differences {
        let stored = match difference.stored {
            Some(c) => format!("oui {} non {}", c.oui, c.non),
            None => "no row".to_owned(),
        };
        let (recounted, audited) = (difference.recounted, difference.audited);
        writeln!(
            out,
            "differs: law {:?}: vote_results {stored}, by the rule oui {} non {}, vote_audit oui {} non {}",
            difference.law_id, recounted.oui, recounted.non, audited.oui, audited.non
        )?;
    }
    let scope = match law {
        Some(law) => format!("law {law:?}"),
        None => format!("{} laws", result.laws_checked),
    };
    let verdict = if result.agreed() {
        format!("vote_results agrees with vote_audit and with the {} rule", rule.as_str())
    } else {
        format!("{} laws differ", result.differences.len())
    };
    writeln!(
        out,
        "recount of {scope}, {} votes in vote_audit, {} recorded votes decided again: {verdict}",
        result.votes_checked, result.votes_decided
    )?;
    match record(&client, started_at, law, &result).await {
        Recorded::Yes => writeln!(out, "outcome recorded in recount_runs")?,
        Recorded::No(why) => writeln!(out, "outcome not recorded: {why}")?,
    }
    Ok(if result.agreed() { Verdict::Agreed } else { Verdict::Differs })
}

/// The subcommand: exit code 0 when the totals agree, 1 when they differ,
/// [`CANNOT_RECOUNT_EXIT_CODE`] when the recount could not run, [`UNKNOWN_LAW_EXIT_CODE`] when
/// `law` is unknown.
pub async fn command(database: &DbTarget, law: Option<&str>, rule: RevoteRule) -> ExitCode {
    let mut stdout = std::io::stdout();
    match run(database, law, rule, &mut stdout).await {
        Ok(Verdict::Agreed) => ExitCode::SUCCESS,
        Ok(Verdict::Differs) => ExitCode::from(1),
        Ok(Verdict::UnknownLaw) => ExitCode::from(UNKNOWN_LAW_EXIT_CODE),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(CANNOT_RECOUNT_EXIT_CODE)
        }
    }
}
