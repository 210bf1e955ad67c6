//! The local RabbitMQ driven as its operator would: `rabbitmqctl`, and a process of the broker
//! suspended to stand for a broker that stops feeding a consumer. Needs the broker's cookie
//! (root next to the broker).

use std::process::Command;

/// `rabbitmqctl` with `args`: its standard output. Panics with all it printed when it fails.
pub fn rabbitmqctl(args: &[&str]) -> String {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("this test needs rabbitmqctl (run as root next to the broker): {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "rabbitmqctl {} failed: {stdout}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The broker-side process of the one channel consuming `queue`.
pub fn consumer_channel(queue: &str) -> String {
    let listing = rabbitmqctl(&["list_consumers", "-q", "queue_name", "channel_pid"]);
    let pids: Vec<&str> =
        listing.lines().filter_map(|line| line.split_once('\t')).filter(|(q, _)| *q == queue).map(|(_, p)| p).collect();
    assert_eq!(pids.len(), 1, "one consumer on {queue}: {listing}");
    pids[0].trim().to_owned()
}

/// Suspends the broker's process `pid` until the returned guard is dropped. A suspension ends
/// with the process that made it, so a process is left waiting on the broker to hold it.
pub fn suspend(pid: &str) -> impl Drop {
    let holder = format!("vote_test_suspension_{}", std::process::id());
    rabbitmqctl(&[
        "eval",
        &format!(
            "P = rabbit_misc:string_to_pid(\"{pid}\"), \
             H = spawn(fun() -> erlang:suspend_process(P), receive resume -> erlang:resume_process(P) end end), \
             register({holder}, H), ok."
        ),
    ]);
    on_drop(move || {
        rabbitmqctl(&["eval", &format!("{holder} ! resume, ok.")]);
    })
}

/// Runs `f` when dropped (also while unwinding from a failed assertion).
pub fn on_drop(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}
