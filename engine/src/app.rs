//! The engine as an application: `Application::build(settings)` prepares everything that can
//! fail fast (ops port, pool, migrations, metrics seeded from the database), then
//! `run_until_stopped(shutdown)` runs the pipeline and the ops server until the token fires.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use vote_mq::DeadLetterPublisher;
use vote_runtime::CancellationToken;
use vote_runtime::backoff::Backoff;
use vote_runtime::http::{ReadinessCheck, bind, ops_router, serve};
use vote_runtime::postgres::{DbError, DbTarget, describe};

use crate::config::Settings;
use crate::metrics::Metrics;
use crate::pipeline::Pipeline;
use crate::source::SourceConfig;
use crate::store::Store;

mod embedded {
    refinery::embed_migrations!("../sql/engine");
}

/// Table recording the engine's applied migrations.
pub const MIGRATION_TABLE: &str = "vote_engine_schema_history";

/// Applies the engine's migrations (creating the database first if it is missing), waiting
/// with backoff while the server is unreachable. Returns how many were applied.
pub async fn migrate(database: &DbTarget, shutdown: &CancellationToken) -> anyhow::Result<usize> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(5));
    loop {
        let attempt = async {
            database.create_database_if_missing().await?;
            database.migrate(embedded::migrations::runner(), MIGRATION_TABLE, &[]).await
        };
        match attempt.await {
            Ok(applied) => return Ok(applied),
            Err(DbError::Postgres(e)) if e.code().is_none() => {
                let delay = backoff.next_delay();
                tracing::warn!(error = %describe(&e), %database, ?delay, "database unreachable; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(delay) => {}
                    _ = shutdown.cancelled() => anyhow::bail!("stopped while waiting for the database"),
                }
            }
            Err(e) => return Err(e).with_context(|| format!("cannot migrate {database}")),
        }
    }
}

/// Declares what the engine consumes from: the shard set whole when sharded, else each queue
/// with its dead-letter queue (idempotent).
pub async fn declare(settings: &Settings) -> Result<(), vote_mq::Error> {
    let name = "vote-engine-declare";
    if let Some(set) = &settings.shard_set {
        return set.declare(&settings.amqp_url, name).await;
    }
    for topology in &settings.queues {
        let config = vote_mq::SubscriptionConfig {
            topology: topology.clone(),
            bindings: None,
            prefetch: 1,
            name: name.to_owned(),
        };
        vote_mq::declare_topology(&settings.amqp_url, &config).await?;
    }
    Ok(())
}

/// A built engine, ready to run.
pub struct Application {
    settings: Settings,
    listener: TcpListener,
    metrics: Arc<Metrics>,
    store: Store,
}

impl Application {
    /// Binds the ops port, applies migrations (unless disabled), opens the pool and seeds the
    /// totals gauge from the database.
    pub async fn build(settings: Settings, shutdown: &CancellationToken) -> anyhow::Result<Self> {
        let listener = bind(settings.prometheus_port).await?;
        let metrics = Arc::new(Metrics::new(settings.metrics_max_laws)?);
        if settings.run_migrations {
            let applied = migrate(&settings.database, shutdown).await?;
            tracing::info!(applied, database = %settings.database, "migrations up to date");
        }
        let pool = settings.database.pool(settings.db_max_connections)?;
        let store = Store::new(pool.clone(), settings.retry, metrics.clone()).with_rule(settings.revote_rule);
        warm_up(&pool, settings.db_min_connections).await;
        match store.load_totals(settings.metrics_max_laws as i64).await {
            Ok(totals) => metrics.seed_totals(&totals),
            Err(e) => tracing::warn!(error = %e, "cannot read current totals yet; the gauge fills as batches commit"),
        }
        Ok(Self { settings, listener, metrics, store })
    }

    /// The port serving /metrics, /healthz and /readyz.
    pub fn ops_port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Runs until `shutdown` is cancelled; returns after the last batch is acked.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let Self { settings, listener, metrics, store } = self;
        // One flag per consumed queue: ready while every queue has a consuming session.
        let broker_up: Vec<Arc<AtomicBool>> =
            settings.queues.iter().map(|_| Arc::new(AtomicBool::new(false))).collect();
        let readiness: ReadinessCheck = {
            let (broker_up, store) = (broker_up.clone(), store.clone());
            Arc::new(move || {
                let (broker_up, store) = (broker_up.clone(), store.clone());
                Box::pin(async move {
                    if let Some(down) = broker_up.iter().position(|up| !up.load(Ordering::Relaxed)) {
                        return Err(format!("not consuming queue {} of {} from the broker", down + 1, broker_up.len()));
                    }
                    match tokio::time::timeout(Duration::from_secs(2), store.ping()).await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(_) => Err("database did not answer within 2 s".to_owned()),
                    }
                })
            })
        };
        let http_stop = CancellationToken::new();
        let http = tokio::spawn(serve(listener, ops_router(metrics.registry.clone(), readiness), http_stop.clone()));
        let pipelines = settings.queues.iter().zip(broker_up).map(|(topology, broker_up)| Pipeline {
            source: SourceConfig {
                url: settings.amqp_url.clone(),
                topology: topology.clone(),
                shard_set: settings.shard_set.clone(),
                prefetch: settings.prefetch,
            },
            policy: settings.batch,
            max_inflight_batches: settings.max_inflight_batches,
            store: store.clone(),
            dead_letters: DeadLetterPublisher::new(
                settings.amqp_url.clone(),
                &topology.dead_letter_exchange,
                &topology.dead_letter_queue,
                &topology.queue,
                "vote-engine-dlq",
            ),
            metrics: metrics.clone(),
            broker_up,
            shutdown_timeout: settings.shutdown_timeout,
        });
        // A pipeline that cannot run (its queue exists with other settings) stops the others.
        let stop_all = shutdown.child_token();
        let runs = pipelines.map(|pipeline| {
            let stop_all = stop_all.clone();
            async move {
                let outcome = pipeline.run(stop_all.clone()).await;
                if outcome.is_err() {
                    stop_all.cancel();
                }
                outcome
            }
        });
        let consumed: Result<Vec<()>, _> = futures::future::join_all(runs).await.into_iter().collect();
        // Metrics stay scrapeable until the pipeline has finished its last commit.
        http_stop.cancel();
        http.await.context("ops server task")?.context("ops server")?;
        consumed?;
        Ok(())
    }
}

async fn warm_up(pool: &deadpool_postgres::Pool, connections: usize) {
    let mut held = Vec::with_capacity(connections);
    for _ in 0..connections {
        match pool.get().await {
            Ok(c) => held.push(c),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open database connections yet; will retry per batch");
                break;
            }
        }
    }
}
