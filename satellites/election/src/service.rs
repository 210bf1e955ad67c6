//! Wiring both services share on the satellite kit: the crate's database (created when
//! missing, migrated) and its outbox.

use deadpool_postgres::Pool;
use vote_satellite_kit::Service;
use vote_satellite_kit::outbox::Outbox;

use crate::config::Settings;
use crate::{Error, store};

/// The service's plumbing, its database pool and its outbox (for the event types `publishes`),
/// ready for the service to add its consumer.
pub async fn open(settings: &Settings, publishes: &[&str]) -> Result<(Service, Pool, Outbox), Error> {
    let mut service = Service::build(&settings.service).await?;
    let pool = service.database(&settings.database, store::migrations(), store::MIGRATION_TABLE).await?;
    let outbox = service.outbox(&pool, publishes);
    Ok((service, pool, outbox))
}
