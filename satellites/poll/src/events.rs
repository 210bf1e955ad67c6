//! The event path, through the same functions as HTTP:
//! - `voting.create` creates a poll (`POST /polls/`);
//! - `poll.ballot.cast` casts a ballot (`POST /polls/{uuid}/ballots`), data
//!   `{"poll_uuid", "voter_id", "choice" | "ranking"}`;
//! - `voting.close` closes and counts a poll (`POST /polls/{uuid}/close`), data `{"uuid"}`.
//!
//! A malformed or refused event (bad data, a second different ballot, a ballot on a closed
//! poll) is dead-lettered at once with its reason; one naming a poll not created yet (its
//! `voting.create` may still be on the way) is retried, then dead-lettered.
//!
//! A `voting.create` is refused when its data is invalid or its poll id holds another poll
//! (other meeting, type or options); one asking again for the very poll that exists is
//! acknowledged. A refused one that names a poll id also queues `voting.refused`
//! `{uuid, reason}` (once per event, in the transaction that marks the event), so that the
//! ElectionService that asked learns why, and is then dead-lettered.

use serde::Deserialize;
use uuid::Uuid;
use vote_mq::Envelope;
use vote_satellite_kit::input::event_data;

use crate::Error;
use crate::ballot::BallotRequest;
use crate::domain::NewPoll;
use crate::polls::{AppState, Cast, Source};
use crate::store::{Creation, SourceEvent};

/// Routing key (and event type) that asks for a poll.
pub const VOTING_CREATE: &str = "voting.create";
/// Routing key (and event type) of a ballot.
pub const BALLOT_CAST: &str = "poll.ballot.cast";
/// Routing key (and event type) that closes a poll.
pub const VOTING_CLOSE: &str = "voting.close";

/// `voting.close` data.
#[derive(Debug, Deserialize)]
struct CloseData {
    uuid: Uuid,
}

/// Handles one event. Events of other types are acknowledged and ignored.
pub async fn handle(state: &AppState, event: Envelope) -> Result<(), Error> {
    match event.event_type.as_str() {
        VOTING_CREATE => create(state, &event).await,
        crate::managers::MEETING_CREATED => crate::managers::record(state, event).await,
        BALLOT_CAST => {
            let (poll_uuid, ballot) = BallotRequest::from_event(&event)?;
            match state.cast_ballot(poll_uuid, &ballot, Source::Event).await.map_err(not_yet_known)? {
                Cast::New(r) => {
                    tracing::info!(event_id = %event.event_id, %poll_uuid, ballot_id = %r.ballot_id, "ballot cast from event")
                }
                Cast::Repeated(r) => {
                    tracing::info!(event_id = %event.event_id, %poll_uuid, ballot_id = %r.ballot_id, "ballot already cast")
                }
            }
            Ok(())
        }
        VOTING_CLOSE => {
            let data: CloseData = event_data(VOTING_CLOSE, event.data)?;
            state.close_poll(data.uuid).await.map_err(not_yet_known)?;
            Ok(())
        }
        other => {
            tracing::debug!(event_type = %other, event_id = %event.event_id, "ignoring event");
            Ok(())
        }
    }
}

async fn create(state: &AppState, event: &Envelope) -> Result<(), Error> {
    let source = SourceEvent { event_id: event.event_id, event_type: &event.event_type };
    let poll = match NewPoll::from_event_data(&event.data) {
        Ok(poll) => poll,
        Err(refused) => {
            if let Some(uuid) = NewPoll::requested_uuid(&event.data) {
                state.refuse_poll(source, uuid, &refused.to_string()).await?;
            }
            return Err(refused);
        }
    };
    match state.create_poll(&poll, Some(source), Source::Event).await? {
        Creation::Created(p) => {
            tracing::info!(event_id = %event.event_id, uuid = %p.uuid, meeting_id = %p.meeting_id, "poll created from event");
        }
        Creation::DuplicateEvent => tracing::info!(event_id = %event.event_id, "event already applied"),
        Creation::Exists(p) => tracing::info!(event_id = %event.event_id, uuid = %p.uuid, "poll already exists"),
        Creation::Collision { uuid, reason } => {
            state.refuse_poll(source, uuid, &reason).await?;
            return Err(Error::Conflict(reason));
        }
    }
    Ok(())
}

/// An unknown poll may be one whose `voting.create` is still queued: retried, not refused.
fn not_yet_known(e: Error) -> Error {
    match e {
        Error::NotFound(what) => Error::NotYetKnown(what),
        other => other,
    }
}
