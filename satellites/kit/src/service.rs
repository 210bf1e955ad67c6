//! The bootstrap every service runs: [`Service::build`] connects the confirmed publisher and
//! binds the HTTP port; the service then adds what it needs (its database, its consumers, its
//! outbox) and its API ([`Service::with_api`]); [`Application::run_until_stopped`] serves the
//! API with the ops endpoints, consumes and relays until the shutdown token is cancelled, then
//! finishes the in-flight messages and requests, flushes the outboxes once more and closes the
//! broker connections.
//!
//! Start-up fails when the database or the broker cannot be reached, so that a wrong setting
//! shows at once. `/readyz` answers 200 when every consumer is subscribed and every database
//! answers.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use deadpool_postgres::Pool;
use prometheus::Registry;
use tokio::net::TcpListener;
use vote_mq::{Consumer, ConsumerMetrics, Envelope, Incoming, Publisher, declare_topic_exchange};
use vote_runtime::CancellationToken;
use vote_runtime::http::{ReadinessCheck, bind, ops_router};

use crate::auth::Authenticator;
use crate::config::{Database, QueueSettings, ServiceSettings, Validate};
use crate::metrics::Metrics;
use crate::openapi::{self, About, OpenApiRouter};
use crate::outbox::Outbox;
use crate::schema::superseded;
use crate::serve::serve;
use crate::{Error, http};

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;
type StartTask = Box<dyn FnOnce(CancellationToken) -> Task + Send>;

/// A service's connections and plumbing, built but not yet running.
pub struct Service {
    settings: ServiceSettings,
    authenticator: Authenticator,
    publisher: Arc<Publisher>,
    registry: Registry,
    metrics: Metrics,
    consumer_metrics: ConsumerMetrics,
    listener: TcpListener,
    port: u16,
    pools: Vec<Pool>,
    subscribed: Vec<Arc<AtomicBool>>,
    tasks: Vec<StartTask>,
}

impl Service {
    /// Checks the authentication settings and reads the JWKS, connects the confirmed
    /// publisher, declares the events exchange (so that publishing works before any consumer
    /// has declared it), registers the common metrics and binds the HTTP port.
    pub async fn build(settings: &ServiceSettings) -> Result<Self, Error> {
        let authenticator = Authenticator::from_settings(&settings.auth.clone().validate()?)?;
        let publisher = Arc::new(Publisher::connect(&settings.amqp_url, &settings.service_name).await?);
        declare_topic_exchange(&settings.amqp_url, &settings.exchange, &settings.service_name).await?;
        let registry = Registry::new();
        let metrics = Metrics::register(&registry)?;
        let consumer_metrics = ConsumerMetrics::register(&registry)?;
        let listener = bind(settings.http_port).await?;
        let port = listener.local_addr()?.port();
        Ok(Self {
            settings: settings.clone(),
            authenticator,
            publisher,
            registry,
            metrics,
            consumer_metrics,
            listener,
            port,
            pools: Vec::new(),
            subscribed: Vec::new(),
            tasks: Vec::new(),
        })
    }

    /// Creates the database when missing (when the role may), applies the shared outbox's
    /// migrations, then `migrations` recording them in `history_table`, and returns a pool;
    /// `/readyz` checks it from now on.
    pub async fn database(
        &mut self,
        database: &Database,
        migrations: refinery::Runner,
        history_table: &str,
    ) -> Result<Pool, Error> {
        let target = &database.target;
        if let Err(e) = target.create_database_if_missing().await {
            // Fine when the role may not create databases and the database exists;
            // migrating below says clearly if it does not.
            tracing::warn!(error = %e, database = %target, "could not check or create the database");
        }
        // The shared outbox first: a service's own migrations may use it.
        target.migrate(crate::outbox::migrations(), crate::outbox::MIGRATION_TABLE, &[]).await?;
        let applied = target.migrate(migrations, history_table, superseded(history_table)).await?;
        tracing::info!(applied, database = %target, "database migrated");
        let pool = database.pool()?;
        self.pools.push(pool.clone());
        Ok(pool)
    }

    /// An outbox in `pool`'s database whose relay runs with the service, for the event types
    /// `publishes`.
    pub fn outbox(&mut self, pool: &Pool, publishes: &[&str]) -> Outbox {
        let outbox = Outbox::new(
            pool.clone(),
            self.publisher.clone(),
            &self.settings.exchange,
            &self.settings.service_name,
            publishes,
            self.metrics.clone(),
        );
        let relay = outbox.clone();
        self.tasks.push(Box::new(move |stop| Box::pin(relay.relay(stop))));
        outbox
    }

    /// Consumes `queue` (bound to the exchange for its bindings), one event envelope at a time,
    /// calling `handler` with a clone of `state`; anything that is not an envelope is
    /// dead-lettered at once.
    pub fn consume<S, F, Fut>(&mut self, queue: &QueueSettings, state: S, handler: F)
    where
        S: Clone + Send + Sync + 'static,
        F: Fn(S, Envelope) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let consumer = self.consumer(queue);
        let handle = move |event| handler(state.clone(), event);
        self.tasks.push(Box::new(move |stop| Box::pin(consumer.run(stop, handle))));
    }

    /// Consumes `queue`, turning each message into `T` with `decode` first (a message `decode`
    /// refuses is dead-lettered at once with its reason), then calling `handler` with a clone
    /// of `state`.
    pub fn consume_with<S, T, D, F, Fut>(&mut self, queue: &QueueSettings, state: S, decode: D, handler: F)
    where
        S: Clone + Send + Sync + 'static,
        T: Send + 'static,
        D: Fn(Incoming<'_>) -> Result<T, String> + Send + Sync + 'static,
        F: Fn(S, T) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let consumer = self.consumer(queue);
        let handle = move |message| handler(state.clone(), message);
        self.tasks.push(Box::new(move |stop| Box::pin(consumer.run_with(stop, decode, handle))));
    }

    fn consumer(&mut self, queue: &QueueSettings) -> Consumer {
        let subscription = queue.subscription(&self.settings, &self.settings.service_name);
        let consumer = Consumer::new(&self.settings.amqp_url, subscription, self.publisher.clone())
            .with_retry(queue.retry.clone())
            .with_metrics(self.consumer_metrics.clone());
        self.subscribed.push(consumer.connected());
        consumer
    }

    /// The confirmed publisher.
    pub fn publisher(&self) -> Arc<Publisher> {
        self.publisher.clone()
    }

    /// The registry served on `/metrics`, for the service's own counters.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The common counters.
    pub fn metrics(&self) -> Metrics {
        self.metrics.clone()
    }

    /// The bound HTTP port (useful when HTTP_PORT is 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The service with its HTTP API, ready to run. The API is documented by its routes'
    /// annotations; the finished document is served at `/openapi.json` ([`crate::openapi`]).
    pub fn with_api(self, about: &About, api: OpenApiRouter) -> Application {
        Application { service: self, api: openapi::serve(about, api) }
    }

    /// Serves `api` (plus the ops endpoints), consumes and relays until `shutdown` is
    /// cancelled, then stops everything in order.
    async fn run(self, api: Router, shutdown: CancellationToken) -> Result<(), Error> {
        let Self {
            settings,
            authenticator,
            publisher,
            registry,
            metrics,
            listener,
            port,
            pools,
            subscribed,
            tasks,
            ..
        } = self;
        let readiness: ReadinessCheck = Arc::new(move || {
            let (pools, subscribed) = (pools.clone(), subscribed.clone());
            Box::pin(async move {
                if !subscribed.iter().all(|s| s.load(Ordering::Relaxed)) {
                    return Err("not subscribed to the broker".to_owned());
                }
                for pool in &pools {
                    let client = pool.get().await.map_err(|e| format!("database: {e}"))?;
                    client.simple_query("SELECT 1").await.map_err(|e| format!("database: {e}"))?;
                }
                Ok(())
            })
        });
        let limits = &settings.http;
        let router = http::finish(api, ops_router(registry, readiness), metrics, Some(authenticator), limits);
        // A child token, so that a failing server stops the other tasks without cancelling
        // the caller's token.
        let stop = shutdown.child_token();
        let running: Vec<_> = tasks.into_iter().map(|start| tokio::spawn(start(stop.clone()))).collect();
        tracing::info!(port, service = %settings.service_name, "listening");
        let served = serve(listener, router, limits, stop.clone()).await;
        stop.cancel();
        for task in running {
            let _ = task.await;
        }
        publisher.close().await;
        served?;
        Ok(())
    }
}

/// A built service and its API: what a satellite's `build` returns, and what its binary runs.
pub struct Application {
    service: Service,
    api: Router,
}

impl Application {
    /// The bound HTTP port (useful when HTTP_PORT is 0).
    pub fn port(&self) -> u16 {
        self.service.port
    }

    /// Serves the API (plus the ops endpoints), consumes and relays until `shutdown` is
    /// cancelled; then finishes the in-flight messages and requests, flushes the outboxes once
    /// more and closes the broker connections.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<(), Error> {
        self.service.run(self.api, shutdown).await
    }
}
