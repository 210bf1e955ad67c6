//! Wiring: [`Application::build`] reads the JWKS, connects the confirmed publisher, opens the
//! pool and binds HTTP_PORT; [`Application::run_until_stopped`] runs the batcher and serves the
//! API with the ops endpoints until the shutdown token fires, then lets the requests in flight
//! have their answers, publishes what is queued and closes the broker connection.
//!
//! `/readyz` answers 200 while votes are being sent to the broker, 503 while they are refused.

use std::sync::Arc;
use std::time::Duration;

use prometheus::Registry;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use vote_mq::Publisher;
use vote_runtime::CancellationToken;
use vote_runtime::config::Validate;
use vote_runtime::http::{ReadinessCheck, bind, ops_router, serve};
use vote_satellite_kit::Error;
use vote_satellite_kit::auth::Authenticator;
use vote_satellite_kit::http::finish;
use vote_satellite_kit::limits::HttpLimits;

use crate::config::Settings;
use crate::limit::CallerLimit;
use crate::metrics::Metrics;
use crate::receipt::ReceiptKey;
use crate::routes::{ABOUT, AppState, MAX_BATCH_BODY, router};
use crate::send::{Batcher, PRODUCER, channel};

/// How often callers whose allowance is full again are forgotten.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// A built intake, ready to run.
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    batcher: Batcher,
    publisher: Arc<Publisher>,
    authenticator: Authenticator,
    registry: Registry,
    kit_metrics: vote_satellite_kit::metrics::Metrics,
}

impl Application {
    /// Checks the authentication settings and reads the JWKS (a problem is a configuration
    /// error: exit code 2), connects to the broker (so a wrong URL shows at once), opens the
    /// pool (connections are made on use), binds HTTP_PORT.
    pub async fn build(settings: &Settings) -> Result<Self, Error> {
        let authenticator = Authenticator::from_settings(&settings.auth.clone().validate()?)?;
        let publisher = Arc::new(Publisher::connect(&settings.amqp_url, PRODUCER).await?);
        let pool = settings.database.pool()?;
        let registry = Registry::new();
        let kit_metrics = vote_satellite_kit::metrics::Metrics::register(&registry)?;
        let metrics = Metrics::register(&registry)?;
        let (sender, batcher) = channel(
            publisher.clone(),
            &settings.queue,
            pool,
            settings.batching,
            settings.confirm_timeout,
            metrics.clone(),
        );
        let state = AppState {
            sender,
            receipts: Arc::new(ReceiptKey::new(settings.receipt_key.expose_secret())),
            limit: Arc::new(CallerLimit::new(settings.rate)),
            metrics,
        };
        let listener = bind(settings.http_port).await?;
        let port = listener.local_addr()?.port();
        tracing::info!(port, broker = %settings.amqp_url.redacted(), queue = %settings.queue, "vote-intake listening");
        Ok(Self { listener, port, state, batcher, publisher, authenticator, registry, kit_metrics })
    }

    /// The bound HTTP port (useful when HTTP_PORT is 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs until `shutdown` is cancelled.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), Error> {
        let Self { listener, state, batcher, publisher, authenticator, registry, kit_metrics, .. } = self;
        let readiness: ReadinessCheck = {
            let sender = state.sender.clone();
            Arc::new(move || {
                let up = sender.is_up();
                Box::pin(async move {
                    if up {
                        Ok(())
                    } else {
                        Err("the broker is not confirming votes (down, blocked or slow): votes are answered 503"
                            .to_owned())
                    }
                })
            })
        };
        let stop = shutdown.child_token();
        let forget = {
            let (limit, stop) = (state.limit.clone(), stop.clone());
            tokio::spawn(async move {
                while tokio::time::timeout(FORGET_IDLE_EVERY, stop.cancelled()).await.is_err() {
                    limit.forget_idle();
                }
            })
        };
        let batching = tokio::spawn(batcher.run());
        let api = vote_satellite_kit::openapi::serve(&ABOUT, router(state));
        // The intake limits each citizen itself (`limit`), so the kit's per-caller limit is off.
        let limits = HttpLimits { max_body: MAX_BATCH_BODY, rate: None, ..HttpLimits::default() };
        let app = finish(api, ops_router(registry, readiness), kit_metrics, Some(authenticator), &limits);
        // The router holds the last senders: once the server is done, the batcher drains.
        let served = serve(listener, app, stop.clone()).await;
        stop.cancel();
        let _ = batching.await;
        let _ = forget.await;
        publisher.close().await;
        served?;
        Ok(())
    }
}
