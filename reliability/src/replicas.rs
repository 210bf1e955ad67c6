//! Replicated servers for the one-machine-loss tests, made by the project's own scripts: a
//! PostgreSQL primary with a synchronous standby (`scripts/postgres-standby.sh`) and a 3-node
//! RabbitMQ cluster (`scripts/rabbitmq-cluster.sh`). Each test that uses them owns them for its
//! run: the ports are fixed, so such tests run in their [`turn`](crate::turn).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs one of the project's scripts with `env`: its standard output. Panics with all it printed
/// when it fails.
pub fn run_script(script: &str, args: &[&str], env: &[(&str, String)]) -> String {
    let path = scripts_dir().join(script);
    let output = Command::new(&path)
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{} {} failed ({}):\n{stdout}{}",
        path.display(),
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// `scripts/rabbitmq-cluster.sh` with `args` (the local 3-node cluster): its output.
pub fn rabbitmq_cluster(args: &[&str]) -> String {
    run_script("rabbitmq-cluster.sh", args, &[])
}

/// The local 3-node RabbitMQ cluster, up for as long as this value lives: dropping it heals any
/// partition and stops every node (their data is kept), so no test leaves the cluster running.
pub struct RabbitCluster(());

impl RabbitCluster {
    /// Starts the nodes that are down and joins them.
    pub fn up() -> Self {
        rabbitmq_cluster(&["up"]);
        Self(())
    }
}

impl Drop for RabbitCluster {
    /// Never panics, since it also runs while a failed test unwinds.
    fn drop(&mut self) {
        for args in [["heal"], ["down"]] {
            let _ = Command::new(scripts_dir().join("rabbitmq-cluster.sh")).args(args).output();
        }
    }
}

pub(crate) fn scripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts")
}

/// A scratch PostgreSQL cluster of the test's own on a loopback port (for server settings the
/// suite's shared server must not get), dropped when this value is.
pub struct ScratchPostgres {
    /// Its port.
    pub port: u16,
}

impl ScratchPostgres {
    /// Creates the cluster afresh (dropping one a previous run left) and waits until it answers.
    pub fn start(port: u16) -> Self {
        let env = [("PRIMARY_PORT", port.to_string())];
        run_script("postgres-standby.sh", &["primary-down"], &env);
        run_script("postgres-standby.sh", &["primary-up"], &env);
        Self { port }
    }
}

impl Drop for ScratchPostgres {
    /// Drops the cluster; never panics, since it also runs while a failed test unwinds.
    fn drop(&mut self) {
        let _ = Command::new(scripts_dir().join("postgres-standby.sh"))
            .arg("primary-down")
            .env("PRIMARY_PORT", self.port.to_string())
            .output();
    }
}

/// A scratch PostgreSQL primary and its synchronous standby on two loopback ports, dropped when
/// this value is.
pub struct PostgresPair {
    /// Port of the primary.
    pub primary_port: u16,
    /// Port of the standby.
    pub standby_port: u16,
}

impl PostgresPair {
    /// Creates both clusters afresh (dropping any a previous run left) and waits until the
    /// standby replicates synchronously.
    pub fn start(primary_port: u16, standby_port: u16) -> Self {
        let pair = Self { primary_port, standby_port };
        pair.script(&["down"]);
        pair.script(&["primary-down"]);
        pair.script(&["primary-up"]);
        pair.script(&["up"]);
        pair
    }

    /// A URL listing both servers, as libpq takes it: the client connects to whichever is the
    /// writable primary.
    pub fn url(&self, dbname: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/{dbname}?target_session_attrs=read-write",
            self.primary_port, self.standby_port
        )
    }

    /// Stops the primary in `immediate` mode: no shutdown checkpoint, connections dropped, as if
    /// its machine had died.
    pub fn stop_primary_immediately(&self) {
        let version = std::fs::read_dir("/etc/postgresql")
            .expect("PostgreSQL is installed")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
            .expect("a PostgreSQL version");
        let cluster = format!("primary-{}", self.primary_port);
        let status = Command::new("pg_ctlcluster")
            .args(["--skip-systemctl-redirect", &version, &cluster, "stop", "-m", "immediate"])
            .status()
            .expect("pg_ctlcluster runs");
        assert!(status.success(), "pg_ctlcluster stop -m immediate failed: {status}");
    }

    /// Promotes the standby to primary.
    pub fn promote(&self) {
        self.script(&["promote"]);
    }

    fn script(&self, args: &[&str]) -> String {
        run_script(
            "postgres-standby.sh",
            args,
            &[("PRIMARY_PORT", self.primary_port.to_string()), ("STANDBY_PORT", self.standby_port.to_string())],
        )
    }
}

impl Drop for PostgresPair {
    /// Drops both clusters; never panics, since it also runs while a failed test unwinds.
    fn drop(&mut self) {
        for args in [["down"], ["primary-down"]] {
            let _ = Command::new(scripts_dir().join("postgres-standby.sh"))
                .args(args)
                .env("PRIMARY_PORT", self.primary_port.to_string())
                .env("STANDBY_PORT", self.standby_port.to_string())
                .output();
        }
    }
}
