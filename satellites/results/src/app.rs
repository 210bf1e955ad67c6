//! The service as an application: [`Application::build`] binds the port and opens the pool;
//! [`Application::run_until_stopped`] runs the change feed and serves the page, the API and the
//! ops endpoints until the shutdown token fires, then closes the open streams and stops.
//!
//! `/readyz` answers 200 once the feed has read the totals and the database answers.

use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use tokio::net::TcpListener;
use vote_runtime::CancellationToken;
use vote_runtime::http::{ReadinessCheck, bind, ops_router};
use vote_satellite_kit::Error;
use vote_satellite_kit::limits::HttpLimits;
use vote_satellite_kit::serve::serve;

use crate::api::{ABOUT, AppState, router};
use crate::config::Settings;
use crate::feed::{Feed, FeedHandle};
use crate::metrics::Metrics;

/// A built service, ready to run.
pub struct Application {
    listener: TcpListener,
    port: u16,
    feed: Feed,
    handle: FeedHandle,
    pool: deadpool_postgres::Pool,
    registry: Registry,
    metrics: Metrics,
    kit_metrics: vote_satellite_kit::metrics::Metrics,
    limits: HttpLimits,
}

impl Application {
    /// Opens the pool (connections are made on first use, so the service starts before the
    /// database answers and says so on `/readyz`), registers the metrics, binds HTTP_PORT.
    pub async fn build(settings: &Settings) -> Result<Self, Error> {
        let pool = settings.database.pool()?;
        let registry = Registry::new();
        let kit_metrics = vote_satellite_kit::metrics::Metrics::register(&registry)?;
        let metrics = Metrics::register(&registry)?;
        let (feed, handle) = Feed::new(pool.clone(), settings.poll_interval, metrics.clone());
        let listener = bind(settings.http_port).await?;
        let port = listener.local_addr()?.port();
        tracing::info!(port, database = %settings.database.target, "results-service listening");
        let limits = settings.http.clone();
        Ok(Self { listener, port, feed, handle, pool, registry, metrics, kit_metrics, limits })
    }

    /// The bound HTTP port (useful when HTTP_PORT is 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), Error> {
        let Self { listener, feed, handle, pool, registry, metrics, kit_metrics, limits, .. } = self;
        let stop = shutdown.child_token();
        let readiness: ReadinessCheck = {
            let (handle, pool) = (handle.clone(), pool.clone());
            Arc::new(move || {
                let (handle, pool) = (handle.clone(), pool.clone());
                Box::pin(async move {
                    if !handle.snapshot().loaded {
                        return Err("the totals have not been read yet".to_owned());
                    }
                    let ping = async {
                        let client = pool.get().await.map_err(|e| format!("database: {e}"))?;
                        client.simple_query("SELECT 1").await.map_err(|e| format!("database: {e}"))?;
                        Ok(())
                    };
                    tokio::time::timeout(Duration::from_secs(2), ping)
                        .await
                        .unwrap_or_else(|_| Err("database did not answer within 2 s".to_owned()))
                })
            })
        };
        let state = AppState { feed: handle, pool, metrics, stop: stop.clone() };
        let app = vote_satellite_kit::http::finish(
            vote_satellite_kit::openapi::serve(&ABOUT, router(state)),
            ops_router(registry, readiness),
            kit_metrics,
            None,
            &limits,
        );
        let feed = tokio::spawn(feed.run(stop.clone()));
        let served = serve(listener, app, &limits, stop.clone()).await;
        stop.cancel();
        let _ = feed.await;
        served?;
        Ok(())
    }
}
