//! The event path: `voting.create` creates a poll through the same function as `POST /polls/`.

use vote_mq::Envelope;

use crate::Error;
use crate::app::{AppState, Source};
use crate::domain::NewPoll;
use crate::store::{Creation, SourceEvent};

/// Routing key (and event type) that asks for a poll.
pub const VOTING_CREATE: &str = "voting.create";

/// Handles one event. An invalid vote is a permanent error (dead-lettered at once); database
/// trouble is retriable. Events of other types are acknowledged and ignored.
pub async fn handle(state: &AppState, event: Envelope) -> Result<(), Error> {
    if event.event_type != VOTING_CREATE {
        tracing::debug!(event_type = %event.event_type, event_id = %event.event_id, "ignoring event");
        return Ok(());
    }
    let poll = NewPoll::from_event_data(&event.data)?;
    let source = SourceEvent { event_id: event.event_id, event_type: &event.event_type };
    match state.create_poll(&poll, Some(source), Source::Event).await? {
        Creation::Created(p) => {
            tracing::info!(event_id = %event.event_id, uuid = %p.uuid, meeting_id = %p.meeting_id, "poll created from event");
        }
        Creation::DuplicateEvent => tracing::info!(event_id = %event.event_id, "event already applied"),
        Creation::UuidTaken(uuid) => tracing::info!(event_id = %event.event_id, %uuid, "poll already exists"),
    }
    Ok(())
}
