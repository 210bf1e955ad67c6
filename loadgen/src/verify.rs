//! The exactness check: wait until PostgreSQL holds the run's expected total, then compare
//! `vote_results` with the expected totals law by law.
//!
//! Only the run's laws are read (`law_id` starting with its prefix), so a database holding
//! earlier runs verifies just as well.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;
use vote_runtime::postgres::DbTarget;

use crate::Error;
use crate::expected::{Expected, LawTotals};

/// What the database counted, per law id.
pub type Actual = BTreeMap<String, LawTotals>;

/// One law whose counts differ from the expected ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LawDiff {
    /// The law.
    pub law_id: String,
    /// What should have been counted.
    pub expected: LawTotals,
    /// What was counted.
    pub actual: LawTotals,
    /// Votes missing and not explained by a swap.
    pub lost: u64,
    /// Votes counted beyond the expected and not explained by a swap.
    pub double_counted: u64,
    /// Votes counted under the other choice (a shortfall on one side matched by an excess on
    /// the other).
    pub wrongly_counted: u64,
}

/// The outcome of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The run's law prefix.
    pub law_prefix: String,
    /// Votes that should be counted.
    pub expected: u64,
    /// Votes counted for the run's laws.
    pub counted: u64,
    /// Sum of [`LawDiff::lost`].
    pub lost: u64,
    /// Sum of [`LawDiff::double_counted`].
    pub double_counted: u64,
    /// Sum of [`LawDiff::wrongly_counted`].
    pub wrongly_counted: u64,
    /// Laws compared (expected or counted).
    pub laws_checked: usize,
    /// Every law that differs, in law id order.
    pub mismatched: Vec<LawDiff>,
    /// How long the wait for the total took, in seconds (0 for a bare comparison).
    pub waited_seconds: f64,
    /// When the counted total first reached the expected one, in seconds from the start of the
    /// wait (before settling); `None` if it never did. Started together with a consumer, this
    /// is the time the consumer took to count the run.
    pub reached_seconds: Option<f64>,
    /// Whether the wait gave up before the total was reached and stable.
    pub timed_out: bool,
}

impl Report {
    /// `true` when every law matches exactly.
    pub fn is_exact(&self) -> bool {
        self.mismatched.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.is_exact() { "EXACT" } else { "MISMATCH" };
        writeln!(f, "verify {}*: {verdict}", self.law_prefix)?;
        writeln!(f, "  expected         {:>12}", self.expected)?;
        writeln!(f, "  counted          {:>12}", self.counted)?;
        writeln!(f, "  lost             {:>12}", self.lost)?;
        writeln!(f, "  double-counted   {:>12}", self.double_counted)?;
        writeln!(f, "  wrongly-counted  {:>12}", self.wrongly_counted)?;
        write!(
            f,
            "  laws checked {}, mismatched {}, waited {:.1} s",
            self.laws_checked,
            self.mismatched.len(),
            self.waited_seconds
        )?;
        if let Some(reached) = self.reached_seconds {
            write!(f, " (total reached after {reached:.2} s)")?;
        }
        if self.timed_out {
            write!(f, " (timed out)")?;
        }
        for diff in self.mismatched.iter().take(10) {
            write!(
                f,
                "\n  {}: expected oui={} non={}, counted oui={} non={}",
                diff.law_id, diff.expected.oui, diff.expected.non, diff.actual.oui, diff.actual.non
            )?;
        }
        if self.mismatched.len() > 10 {
            write!(f, "\n  ... and {} more laws", self.mismatched.len() - 10)?;
        }
        Ok(())
    }
}

/// Compares the counts of the run's laws (those of `actual` starting with the run's prefix)
/// with the expected ones.
pub fn compare(expected: &Expected, actual: &Actual) -> Report {
    let ours = |law: &&String| law.starts_with(&expected.law_prefix);
    let mut laws: Vec<&String> = expected.laws.keys().chain(actual.keys().filter(ours)).collect();
    laws.sort();
    laws.dedup();
    let mut report = Report {
        law_prefix: expected.law_prefix.clone(),
        expected: expected.total,
        counted: actual.iter().filter(|(law, _)| ours(law)).map(|(_, t)| t.total()).sum(),
        lost: 0,
        double_counted: 0,
        wrongly_counted: 0,
        laws_checked: laws.len(),
        mismatched: Vec::new(),
        waited_seconds: 0.0,
        reached_seconds: None,
        timed_out: false,
    };
    for law in laws {
        let want = expected.laws.get(law).copied().unwrap_or_default();
        let got = actual.get(law).copied().unwrap_or_default();
        if want == got {
            continue;
        }
        let (oui_short, oui_extra) = (want.oui.saturating_sub(got.oui), got.oui.saturating_sub(want.oui));
        let (non_short, non_extra) = (want.non.saturating_sub(got.non), got.non.saturating_sub(want.non));
        let swapped = oui_short.min(non_extra) + non_short.min(oui_extra);
        let diff = LawDiff {
            law_id: law.clone(),
            expected: want,
            actual: got,
            lost: oui_short + non_short - swapped,
            double_counted: oui_extra + non_extra - swapped,
            wrongly_counted: swapped,
        };
        report.lost += diff.lost;
        report.double_counted += diff.double_counted;
        report.wrongly_counted += diff.wrongly_counted;
        report.mismatched.push(diff);
    }
    report
}

/// Votes counted so far for laws starting with `law_prefix` (0 while `vote_results` does not
/// exist yet: the engine may not have migrated).
pub async fn counted_total(client: &Client, law_prefix: &str) -> Result<u64, Error> {
    let sql = "SELECT coalesce(sum(oui_count + non_count), 0)::int8 FROM vote_results WHERE starts_with(law_id, $1)";
    match client.query_one(sql, &[&law_prefix]).await {
        Ok(row) => Ok(row.get::<_, i64>(0).max(0) as u64),
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// The counts of every law starting with `law_prefix`.
pub async fn fetch_actual(client: &Client, law_prefix: &str) -> Result<Actual, Error> {
    let sql = "SELECT law_id, oui_count, non_count FROM vote_results WHERE starts_with(law_id, $1)";
    let rows = match client.query(sql, &[&law_prefix]).await {
        Ok(rows) => rows,
        Err(e) if e.code() == Some(&SqlState::UNDEFINED_TABLE) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    Ok(rows
        .iter()
        .map(|row| {
            let totals = LawTotals { oui: row.get::<_, i64>(1).max(0) as u64, non: row.get::<_, i64>(2).max(0) as u64 };
            (row.get::<_, String>(0), totals)
        })
        .collect())
}

/// How long and how to wait for the engine to catch up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaitOptions {
    /// Give up waiting (and compare what is there) after this long.
    pub timeout: Duration,
    /// Once the expected total is reached, the count must stay unchanged this long, so that
    /// late double counts are caught.
    pub settle: Duration,
    /// Time between two polls.
    pub poll: Duration,
}

impl WaitOptions {
    /// Waits at most `timeout`, settling for 1 s, polling every 200 ms.
    pub fn with_timeout(timeout: Duration) -> Self {
        Self { timeout, settle: Duration::from_secs(1), poll: Duration::from_millis(200) }
    }
}

/// What [`wait_for_total`] saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wait {
    /// How long it waited in all.
    pub waited: Duration,
    /// When the total first reached the expected one (within one poll interval).
    pub reached: Option<Duration>,
    /// Whether it gave up.
    pub timed_out: bool,
}

/// Polls until the run's counted total reaches the expected total and stops changing, or the
/// timeout passes; calls `on_poll` with each total seen.
pub async fn wait_for_total(
    client: &Client,
    expected: &Expected,
    options: &WaitOptions,
    on_poll: &mut (dyn FnMut(u64) + Send),
) -> Result<Wait, Error> {
    let start = Instant::now();
    let mut last = None;
    let mut last_change = start;
    let mut reached = None;
    loop {
        let total = counted_total(client, &expected.law_prefix).await?;
        on_poll(total);
        let now = Instant::now();
        if last != Some(total) {
            last = Some(total);
            last_change = now;
        }
        if total >= expected.total {
            reached.get_or_insert(now - start);
            if now - last_change >= options.settle {
                return Ok(Wait { waited: now - start, reached, timed_out: false });
            }
        }
        let elapsed = now - start;
        if elapsed >= options.timeout {
            return Ok(Wait { waited: elapsed, reached, timed_out: true });
        }
        tokio::time::sleep(options.poll.min(options.timeout - elapsed)).await;
    }
}

/// Waits (see [`wait_for_total`]) on `client`, then compares law by law.
pub async fn wait_and_verify_with(
    client: &Client,
    expected: &Expected,
    options: &WaitOptions,
    on_poll: &mut (dyn FnMut(u64) + Send),
) -> Result<Report, Error> {
    let wait = wait_for_total(client, expected, options, on_poll).await?;
    let actual = fetch_actual(client, &expected.law_prefix).await?;
    let mut report = compare(expected, &actual);
    report.waited_seconds = wait.waited.as_secs_f64();
    report.reached_seconds = wait.reached.map(|r| r.as_secs_f64());
    report.timed_out = wait.timed_out;
    Ok(report)
}

/// The whole check in one call: connect to `db`, wait at most `timeout` for the expected total
/// (settling 1 s), compare law by law.
pub async fn wait_and_verify(db: &DbTarget, expected: &Expected, timeout: Duration) -> Result<Report, Error> {
    let client = db.connect().await?;
    wait_and_verify_with(&client, expected, &WaitOptions::with_timeout(timeout), &mut |_| {}).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(oui: u64, non: u64) -> LawTotals {
        LawTotals { oui, non }
    }

    fn expected() -> Expected {
        let laws = [("run-00001", totals(10, 5)), ("run-00002", totals(0, 7)), ("run-00003", totals(3, 3))];
        Expected::from_laws("run-", 4, laws.iter().map(|(l, t)| (l.to_string(), *t)).collect())
    }

    fn actual(laws: &[(&str, LawTotals)]) -> Actual {
        laws.iter().map(|(l, t)| (l.to_string(), *t)).collect()
    }

    fn exact() -> Actual {
        actual(&[("run-00001", totals(10, 5)), ("run-00002", totals(0, 7)), ("run-00003", totals(3, 3))])
    }

    #[test]
    fn exact_counts_are_exact_and_other_runs_are_ignored() {
        let mut counted = exact();
        counted.insert("other-00001".to_owned(), totals(99, 99));
        let report = compare(&expected(), &counted);
        assert!(report.is_exact(), "{report}");
        assert_eq!((report.expected, report.counted), (28, 28));
        assert_eq!((report.lost, report.double_counted, report.wrongly_counted), (0, 0, 0));
        assert_eq!(report.laws_checked, 3);
        assert!(report.to_string().contains("EXACT"));
    }

    #[test]
    fn missing_votes_and_missing_laws_are_lost() {
        let mut counted = exact();
        counted.insert("run-00001".to_owned(), totals(9, 5));
        counted.remove("run-00002");
        let report = compare(&expected(), &counted);
        assert!(!report.is_exact());
        assert_eq!((report.counted, report.lost, report.double_counted, report.wrongly_counted), (20, 8, 0, 0));
        let laws: Vec<_> = report.mismatched.iter().map(|d| d.law_id.as_str()).collect();
        assert_eq!(laws, ["run-00001", "run-00002"]);
        assert!(report.to_string().contains("MISMATCH"));
    }

    #[test]
    fn extra_votes_are_double_counted_also_on_laws_not_expected() {
        let mut counted = exact();
        counted.insert("run-00003".to_owned(), totals(4, 3));
        counted.insert("run-00004".to_owned(), totals(0, 2));
        let report = compare(&expected(), &counted);
        assert_eq!((report.counted, report.lost, report.double_counted, report.wrongly_counted), (31, 0, 3, 0));
        assert_eq!(report.laws_checked, 4);
    }

    #[test]
    fn swapped_choices_are_wrongly_counted_and_the_rest_classified() {
        let mut counted = exact();
        // Two oui counted as non: same total, wrong split.
        counted.insert("run-00001".to_owned(), totals(8, 7));
        // One non counted as oui, and one more non lost.
        counted.insert("run-00002".to_owned(), totals(1, 5));
        let report = compare(&expected(), &counted);
        assert_eq!((report.lost, report.double_counted, report.wrongly_counted), (1, 0, 3));
        let first = &report.mismatched[0];
        assert_eq!((first.lost, first.double_counted, first.wrongly_counted), (0, 0, 2));
    }

    #[test]
    fn the_text_report_lists_ten_laws_then_says_how_many_more() {
        let law = |i: u32| format!("run-{i:05}");
        let expected = Expected::from_laws("run-", 12, (1..=12).map(|i| (law(i), totals(1, 0))).collect());
        let shown = |mismatched: u32| {
            let counted: Actual = (1..=12).map(|i| (law(i), totals(u64::from(i > mismatched), 0))).collect();
            compare(&expected, &counted).to_string()
        };
        let listed = |text: &str| text.lines().filter(|l| l.contains(": expected oui=1 non=0, counted oui=0")).count();
        let ten = shown(10);
        assert_eq!(listed(&ten), 10, "{ten}");
        assert!(!ten.contains("more laws"), "{ten}");
        let eleven = shown(11);
        assert_eq!(listed(&eleven), 10, "{eleven}");
        assert!(eleven.ends_with("\n  ... and 1 more laws"), "{eleven}");
    }
}
