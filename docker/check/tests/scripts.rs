//! The set-up scripts as a newcomer meets them: the Rust they need is the one the workspace
//! declares and the README states; an unprivileged user who lacks what a step needs is told at
//! once, in one line, which step needed root.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn declared_rust() -> String {
    let manifest = std::fs::read_to_string(repo().join("Cargo.toml")).expect("the workspace manifest");
    manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \"")?.strip_suffix('"'))
        .expect("rust-version in the workspace manifest")
        .to_owned()
}

fn stderr_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr).lines().map(str::to_owned).collect()
}

/// `require_rust` from scripts/lib.sh with a `cargo` on PATH that reports `version`.
fn require_rust_with(version: &str) -> Output {
    let dir = tempfile_dir("fake-cargo");
    let cargo = dir.join("cargo");
    std::fs::write(&cargo, format!("#!/bin/sh\necho 'cargo {version} (0000000 2026-01-01)'\n")).unwrap();
    make_executable(&cargo);
    let path = format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("bash")
        .args(["-c", "source scripts/lib.sh && require_rust"])
        .current_dir(repo())
        .env("PATH", path)
        .output()
        .expect("bash runs")
}

fn tempfile_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vote-opskit-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn make_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn an_older_rust_is_refused_in_one_line_naming_the_declared_version() {
    let need = declared_rust();
    let old = require_rust_with("1.65.0");
    assert!(!old.status.success(), "cargo 1.65.0 passed the check");
    let lines = stderr_lines(&old);
    assert_eq!(lines.len(), 1, "one line expected: {lines:?}");
    assert!(
        lines[0].contains(&format!("Rust >= {need}"))
            && lines[0].contains("found: 1.65.0")
            && lines[0].contains("rustup"),
        "{lines:?}"
    );
    let same = require_rust_with(&format!("{need}.0"));
    assert!(same.status.success(), "cargo {need}.0 refused: {:?}", stderr_lines(&same));
    let newer = require_rust_with("1.100.0");
    assert!(newer.status.success(), "cargo 1.100.0 refused (compared as text?): {:?}", stderr_lines(&newer));
}

#[test]
fn the_readme_states_the_rust_the_workspace_declares() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let need = declared_rust();
    assert!(readme.contains(&format!("Rust ≥ {need}")), "README.md does not say Rust ≥ {need}");
    assert!(readme.contains("apt-get install -y build-essential curl jq git"), "README.md's prerequisites changed");
}

/// Runs `setup-services.sh` as the unprivileged user `nobody` from a copy of the scripts that
/// user can read, with PostgreSQL expected on a port nothing listens on, so the script must
/// start a server, which needs root.
#[test]
fn an_unprivileged_user_is_told_at_once_which_step_needs_root() {
    assert!(
        Command::new("id").arg("-u").output().map(|o| o.stdout.starts_with(b"0\n")).unwrap_or(false),
        "this test switches to the user 'nobody' and so runs as root, as CI does"
    );
    let copy = tempfile_dir("scripts-copy");
    for file in ["scripts/lib.sh", "scripts/setup-services.sh", "scripts/dev-auth-keys.sh", "Cargo.toml"] {
        let to = copy.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(repo().join(file), &to).unwrap();
        make_executable(&to);
    }
    for dir in [&copy, &copy.join("scripts")] {
        make_executable(dir);
    }
    let free_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let started = Instant::now();
    let output = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(copy.join("scripts/setup-services.sh"))
        .env("POSTGRES_PORT", free_port.to_string())
        .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .output()
        .expect("setpriv runs");
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&copy);
    let lines = stderr_lines(&output);
    assert!(!output.status.success(), "setup succeeded without root: {lines:?}");
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?} to say so");
    assert_eq!(lines.len(), 1, "one line expected: {lines:?}");
    assert!(lines[0].contains("root is needed to start PostgreSQL"), "{lines:?}");
}
