//! Wiring on the satellite kit: database (created when missing, migrated), the outbox that
//! publishes `voting.completed` and `voting.refused`, the consumer of `voting.create`,
//! `voting.close` and `poll.ballot.cast`, and the HTTP API, all on one [`AppState`].

use vote_satellite_kit::metrics::{counter, counter_vec};
use vote_satellite_kit::{Application, Service};

use crate::config::Settings;
use crate::polls::{
    AppState, BALLOTS_CAST_TOTAL, POLLS_CLOSED_TOTAL, POLLS_CREATED_TOTAL, VOTING_COMPLETED, VOTING_REFUSED,
};
use crate::{Error, events, routes, store};

/// Builds the VotingService: prepares the database, connects to the broker, subscribes to its
/// bindings and binds the HTTP port. Fails when the database or the broker cannot be reached,
/// so that a wrong setting shows at start-up.
pub async fn build(settings: Settings) -> Result<Application, Error> {
    let mut service = Service::build(&settings.service).await?;
    let pool = service.database(&settings.database, store::migrations(), store::MIGRATION_TABLE).await?;
    let outbox = service.outbox(&pool, &[VOTING_COMPLETED, VOTING_REFUSED]);
    let registry = service.registry();
    let state = AppState {
        pool,
        outbox,
        polls_created: counter_vec(registry, POLLS_CREATED_TOTAL, "Polls created, by source.", &["source"])?,
        ballots_cast: counter_vec(registry, BALLOTS_CAST_TOTAL, "New ballots stored, by source.", &["source"])?,
        polls_closed: counter(registry, POLLS_CLOSED_TOTAL, "Polls closed and counted.")?,
    };
    service.consume(&settings.queue, state.clone(), |state, event| async move { events::handle(&state, event).await });
    Ok(service.with_api(&routes::ABOUT, routes::router(state)))
}
