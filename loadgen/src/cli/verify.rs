//! `loadgen verify`: wait for the engine to reach the expected totals, then compare.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use vote_runtime::config::{DatabaseArgs, Validate};

use super::Outcome;
use crate::Error;
use crate::duration::parse_duration;
use crate::expected::Expected;
use crate::verify::{Report, WaitOptions, wait_and_verify_with};

/// How long to wait for the engine.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Give up waiting for the expected total after this long, and compare what is there.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Once the total is reached, it must stay unchanged this long (catches late double counts).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub settle: Duration,
    /// Time between two looks at the database (one connection, one cheap query each).
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub poll: Duration,
}

impl WaitArgs {
    pub(super) fn options(&self) -> WaitOptions {
        WaitOptions { settle: self.settle, poll: self.poll, ..WaitOptions::with_timeout(self.timeout) }
    }
}

/// `loadgen verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The expected totals written by `publish`.
    #[arg(long, default_value = "loadgen.expected.json")]
    pub expected: PathBuf,
    /// Waiting.
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print the report as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn verify_command(args: VerifyArgs) -> Result<Outcome, Error> {
    let db = args.database.validate()?.target;
    let expected = Expected::read(&args.expected)?;
    let client = db.connect().await?;
    let report = verify_with_progress(&client, &expected, &args.wait.options(), !args.json).await?;
    if args.json {
        say!("{}", json!({ "exact": report.is_exact(), "verify": report }));
    } else {
        say!("{report}");
    }
    Ok(if report.is_exact() { Outcome::Done } else { Outcome::Mismatch })
}

pub(super) async fn verify_with_progress(
    client: &tokio_postgres::Client,
    expected: &Expected,
    options: &WaitOptions,
    show: bool,
) -> Result<Report, Error> {
    let bar = if show && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(expected.total);
        if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {human_pos}/{human_len} counted")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let on_poll = bar.clone();
    let report = wait_and_verify_with(client, expected, options, &mut move |total| on_poll.set_position(total)).await;
    bar.finish_and_clear();
    report
}
