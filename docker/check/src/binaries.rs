//! The workspace's binaries: which exist (`cargo metadata`), which the kit ships, building them
//! with cargo, and the environment variables each one accepts (read from its `--help`).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::Error;

/// Packages whose binaries are not shipped: benchmark baselines, and this package.
pub const NOT_SHIPPED_PACKAGES: &[&str] = &["vote-bench", "vote-opskit"];

/// Shipped binaries that run on demand (`docker compose run`), not as long-running services:
/// no healthcheck, no Deployment.
pub const TOOLS: &[&str] = &["loadgen"];

/// A binary target of a workspace package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct BinTarget {
    /// The package that owns it.
    pub package: String,
    /// The binary's name (`target/<profile>/<name>`).
    pub name: String,
}

impl BinTarget {
    /// Whether it runs as a long-running service (not one of the [`TOOLS`]).
    pub fn is_service(&self) -> bool {
        !TOOLS.contains(&self.name.as_str())
    }
}

/// The repository root (the workspace's root manifest lives there).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Variables cargo sets for the package whose tests run. A nested cargo must not see them:
/// build scripts that track one (ring's tracks `CARGO_MANIFEST_DIR`) would be rerun, and
/// everything above them rebuilt, each time cargo is called from another package's tests.
const PACKAGE_VARIABLES: &[&str] = &[
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "CARGO_TARGET_TMPDIR",
    "OUT_DIR",
];

/// The cargo that runs the tests (or the one on PATH), in the environment of a plain
/// `cargo` call from a shell, so it shares its build artifacts with those calls.
fn cargo() -> Command {
    let mut command = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo")));
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if PACKAGE_VARIABLES.contains(&name.as_ref()) || name.starts_with("CARGO_PKG_") {
            command.env_remove(name.as_ref());
        }
    }
    command
}

fn run(command: &mut Command) -> Result<Output, Error> {
    let line = format!("{command:?}");
    let output = command.output().map_err(|e| Error::Command { command: line.clone(), message: e.to_string() })?;
    if output.status.success() {
        Ok(output)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(30).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Err(Error::Command { command: line, message: format!("{}\n{}", output.status, tail.join("\n")) })
    }
}

/// Every binary target of every workspace package, from `cargo metadata --no-deps`.
pub fn workspace_binaries() -> Result<Vec<BinTarget>, Error> {
    let output = run(cargo()
        .args(["metadata", "--format-version", "1", "--no-deps", "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml")))?;
    let metadata: Value =
        serde_json::from_slice(&output.stdout).map_err(|e| Error::parse("cargo metadata output", e))?;
    let mut bins = Vec::new();
    for package in metadata["packages"].as_array().into_iter().flatten() {
        let package_name = package["name"].as_str().unwrap_or_default();
        for target in package["targets"].as_array().into_iter().flatten() {
            let is_bin = target["kind"].as_array().into_iter().flatten().any(|k| k == "bin");
            if is_bin {
                let name = target["name"].as_str().unwrap_or_default();
                bins.push(BinTarget { package: package_name.to_owned(), name: name.to_owned() });
            }
        }
    }
    bins.sort();
    Ok(bins)
}

/// The binaries the kit must ship: every workspace binary but those of [`NOT_SHIPPED_PACKAGES`].
pub fn shipped_binaries() -> Result<Vec<BinTarget>, Error> {
    Ok(workspace_binaries()?.into_iter().filter(|b| !NOT_SHIPPED_PACKAGES.contains(&b.package.as_str())).collect())
}

/// Builds `bins` and returns where each executable is, as cargo reports it (so any target
/// directory works).
///
/// First with the build `scripts/test.sh` and CI run (`cargo test --workspace --all-targets`,
/// which builds the binaries of every package that has integration tests): under that command
/// everything is already fresh, while a plain `cargo build` would compile the dependencies
/// again with other features (no dev-dependencies). Binaries that build does not give, or all
/// of them if it fails (another package broken meanwhile), come from `cargo build --bins` of
/// their packages.
pub fn build(bins: &[BinTarget]) -> Result<BTreeMap<String, PathBuf>, Error> {
    let mut test_build = cargo();
    test_build.args(["test", "--workspace", "--all-targets", "--no-run"]);
    let mut built = compiled_binaries(&mut test_build).unwrap_or_default();
    let packages: BTreeSet<&str> =
        bins.iter().filter(|b| !built.contains_key(&b.name)).map(|b| b.package.as_str()).collect();
    if !packages.is_empty() {
        let mut plain_build = cargo();
        plain_build.args(["build", "--bins"]);
        for package in packages {
            plain_build.args(["-p", package]);
        }
        built.extend(compiled_binaries(&mut plain_build)?);
    }
    match bins.iter().find(|b| !built.contains_key(&b.name)) {
        Some(missing) => {
            Err(Error::parse("cargo build output", format!("no executable reported for {}", missing.name)))
        }
        None => Ok(built),
    }
}

/// Runs a cargo build command and returns the binary executables it reports (test harnesses
/// left out).
fn compiled_binaries(command: &mut Command) -> Result<BTreeMap<String, PathBuf>, Error> {
    command.args(["--message-format=json-render-diagnostics", "--manifest-path"]);
    command.arg(workspace_root().join("Cargo.toml"));
    let output = run(command)?;
    let mut built = BTreeMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<Value>(line) else { continue };
        let is_bin = message["target"]["kind"].as_array().is_some_and(|kinds| kinds.iter().any(|k| k == "bin"));
        if message["reason"] != "compiler-artifact" || !is_bin || message["profile"]["test"] != false {
            continue;
        }
        if let (Some(name), Some(executable)) = (message["target"]["name"].as_str(), message["executable"].as_str()) {
            built.insert(name.to_owned(), PathBuf::from(executable));
        }
    }
    Ok(built)
}

/// The environment variables a binary accepts: every `[env: NAME` in its `--help`, and in the
/// `--help` of each of its subcommands.
pub fn accepted_env(executable: &Path) -> Result<BTreeSet<String>, Error> {
    let help = help_text(executable, &[])?;
    let mut names = env_names_in_help(&help);
    for subcommand in subcommands_in_help(&help) {
        names.extend(env_names_in_help(&help_text(executable, &[&subcommand])?));
    }
    Ok(names)
}

fn help_text(executable: &Path, subcommand: &[&str]) -> Result<String, Error> {
    // A clean environment: help output must not depend on what the caller has set.
    let output = run(Command::new(executable)
        .args(subcommand)
        .arg("--help")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default()))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Names in clap's `[env: NAME]` / `[env: NAME=value]` annotations.
pub fn env_names_in_help(help: &str) -> BTreeSet<String> {
    help.split("[env: ")
        .skip(1)
        .map(|rest| rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect::<String>())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Subcommands listed under clap's `Commands:` heading, `help` left out.
pub fn subcommands_in_help(help: &str) -> Vec<String> {
    let mut lines = help.lines().skip_while(|l| l.trim() != "Commands:").skip(1);
    let mut names = Vec::new();
    for line in lines.by_ref() {
        if !line.starts_with("  ") {
            break;
        }
        if let Some(name) = line.split_whitespace().next()
            && name != "help"
        {
            names.push(name.to_owned());
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    const HELP: &str = "Load generator

Usage: loadgen [OPTIONS] <COMMAND>

Commands:
  publish  Publish votes
  verify   Wait until PostgreSQL reaches the expected totals
  help     Print this message or the help of the given subcommand(s)

Options:
      --log-level <LOG_LEVEL>  Log level [env: LOG_LEVEL=] [default: warn]
      --amqp-url <AMQP_URL>  Broker [env: AMQP_URL]
      --queue <QUEUE>  Queue [env: RABBITMQ_QUEUE=votes] [default: votes.aggregation]
  -h, --help                   Print help
";

    #[test]
    fn env_names_are_read_with_and_without_values() {
        let names: Vec<String> = env_names_in_help(HELP).into_iter().collect();
        assert_eq!(names, ["AMQP_URL", "LOG_LEVEL", "RABBITMQ_QUEUE"]);
    }

    #[test]
    fn subcommands_stop_at_the_blank_line_and_skip_help() {
        assert_eq!(subcommands_in_help(HELP), ["publish", "verify"]);
        assert!(subcommands_in_help("Usage: x\n\nOptions:\n  -h\n").is_empty());
    }

    #[test]
    fn tools_are_not_services() {
        let tool = BinTarget { package: "vote-loadgen".into(), name: "loadgen".into() };
        let service = BinTarget { package: "vote-engine".into(), name: "vote-engine".into() };
        assert!(!tool.is_service());
        assert!(service.is_service());
    }
}
