//! Many listeners on the results service's `/api/stream` at once (bench/results.sh): opens
//! `--clients` connections, waits until each has its first event, then changes one law's totals
//! in the database per round (`--rounds`, `--interval-ms` apart) and measures, per listener,
//! how long after the commit the change arrived. With `--pid`, also the service's CPU over the
//! rounds (from /proc). Prints one JSON object.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Mutex, watch};

struct Options {
    port: u16,
    database_url: String,
    clients: usize,
    rounds: usize,
    interval: Duration,
    pid: Option<u32>,
    clk_tck: f64,
    law_prefix: String,
}

fn options() -> anyhow::Result<Options> {
    let mut o = Options {
        port: 5020,
        database_url: "postgres://postgres@127.0.0.1:5432/election_votes".into(),
        clients: 1000,
        rounds: 20,
        interval: Duration::from_millis(1000),
        pid: None,
        clk_tck: 100.0,
        law_prefix: "law-".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => o.port = value.parse()?,
            "--database-url" => o.database_url = value,
            "--clients" => o.clients = value.parse()?,
            "--rounds" => o.rounds = value.parse()?,
            "--interval-ms" => o.interval = Duration::from_millis(value.parse()?),
            "--pid" => o.pid = Some(value.parse()?),
            "--clk-tck" => o.clk_tck = value.parse()?,
            "--law-prefix" => o.law_prefix = value,
            other => bail!("unknown flag {other}"),
        }
    }
    Ok(o)
}

/// The round in progress: its number, the text its event carries, when it committed.
type Round = Option<(usize, String, Instant)>;

/// One listener: reads the stream and records, per round, how long after the commit it saw
/// the round's law.
async fn listen(
    port: u16,
    mut rounds: watch::Receiver<Round>,
    ready: Arc<tokio::sync::Semaphore>,
    delays: Arc<Mutex<Vec<Option<Duration>>>>,
    total_rounds: usize,
) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.write_all(b"GET /api/stream HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\n\r\n").await?;
    let mut seen = String::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut announced = false;
    let mut mine = vec![None; total_rounds];
    let mut done = 0;
    loop {
        tokio::select! {
            read = stream.read(&mut buffer) => {
                let n = read?;
                if n == 0 {
                    break;
                }
                seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
                if !announced && seen.contains("event: resync") {
                    announced = true;
                    ready.add_permits(1);
                }
            }
            changed = rounds.changed() => {
                if changed.is_err() {
                    break;
                }
            }
        }
        let current = rounds.borrow().clone();
        if let Some((round, needle, committed)) = current
            && mine[round].is_none()
            && let Some(at) = seen.find(&needle)
        {
            mine[round] = Some(committed.elapsed());
            seen.drain(..at + needle.len());
            done += 1;
            if done == total_rounds {
                break;
            }
        }
        if seen.len() > 1 << 20 {
            let keep = seen.len() - 4096;
            seen.drain(..keep);
        }
    }
    delays.lock().await.extend(mine);
    Ok(())
}

fn cpu_ticks(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').context("a /proc stat line")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Ok(fields[11].parse::<f64>()? + fields[12].parse::<f64>()?)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let index = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let o = options()?;
    let (db, connection) = tokio_postgres::connect(&o.database_url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    let laws: Vec<String> = db
        .query(
            "SELECT law_id FROM vote_results WHERE starts_with(law_id, $1) ORDER BY random() LIMIT $2",
            &[&o.law_prefix, &(o.rounds as i64)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if laws.len() < o.rounds {
        bail!("need {} laws starting with {:?}, found {}", o.rounds, o.law_prefix, laws.len());
    }

    let (rounds_tx, rounds_rx) = watch::channel::<Round>(None);
    let ready = Arc::new(tokio::sync::Semaphore::new(0));
    let delays = Arc::new(Mutex::new(Vec::new()));
    let connect_started = Instant::now();
    let mut listeners = Vec::new();
    for _ in 0..o.clients {
        let task = listen(o.port, rounds_rx.clone(), ready.clone(), delays.clone(), o.rounds);
        listeners.push(tokio::spawn(task));
    }
    let all = ready.acquire_many(o.clients as u32);
    tokio::time::timeout(Duration::from_secs(60), all).await.context("listeners connected within 60 s")??.forget();
    let connect_seconds = connect_started.elapsed().as_secs_f64();

    let cpu_before = o.pid.map(cpu_ticks).transpose()?;
    let started = Instant::now();
    for (round, law) in laws.iter().enumerate() {
        db.execute("UPDATE vote_results SET oui_count = oui_count + 1, updated_at = now() WHERE law_id = $1", &[law])
            .await?;
        rounds_tx.send_replace(Some((round, format!("\"law_id\":\"{law}\""), Instant::now())));
        tokio::time::sleep(o.interval).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_cores = match (o.pid, cpu_before) {
        (Some(pid), Some(before)) => Some((cpu_ticks(pid)? - before) / o.clk_tck / elapsed),
        _ => None,
    };
    drop(rounds_tx);
    for listener in listeners {
        listener.await??;
    }

    let delays = delays.lock().await;
    let mut received: Vec<Duration> = delays.iter().flatten().copied().collect();
    received.sort();
    let expected = o.clients * o.rounds;
    println!(
        "{{\"clients\":{},\"rounds\":{},\"expected\":{expected},\"received\":{},\"p50_ms\":{:.1},\"p99_ms\":{:.1},\"max_ms\":{:.1},\"connect_seconds\":{connect_seconds:.2},\"cpu_cores\":{}}}",
        o.clients,
        o.rounds,
        received.len(),
        percentile(&received, 50.0),
        percentile(&received, 99.0),
        percentile(&received, 100.0),
        cpu_cores.map_or("null".to_owned(), |c| format!("{c:.3}")),
    );
    Ok(())
}
