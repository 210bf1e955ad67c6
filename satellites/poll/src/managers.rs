//! Who manages a meeting's polls. Creating a poll for a meeting and closing it need the
//! `manager` role for that meeting: the token's `manager:<meeting_id>` role, or a grant this
//! service recorded from `meeting.created` (the meeting's creator), see
//! `vote_satellite_kit::auth`. Polls created by events (`voting.create` from the
//! ElectionService) are not checked here: only the platform's services may publish them.

use serde::Deserialize;
use vote_mq::Envelope;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::input::event_data;

use crate::Error;
use crate::polls::AppState;
use crate::store;

/// Routing key (and event type) of a new meeting; its creator manages it.
pub const MEETING_CREATED: &str = "meeting.created";

/// The part of `meeting.created` data read here.
#[derive(Debug, Deserialize)]
struct MeetingCreated {
    meeting_id: uuid::Uuid,
    created_by: String,
}

/// Records the creator of a meeting as its manager (idempotent: a redelivery changes nothing).
pub async fn record(state: &AppState, event: Envelope) -> Result<(), Error> {
    let data: MeetingCreated = event_data(&event.event_type, event.data)?;
    let client = state.pool.get().await?;
    store::grant_manager(&client, &data.meeting_id.to_string(), &data.created_by).await?;
    tracing::info!(meeting_id = %data.meeting_id, user_id = %data.created_by, "meeting manager recorded");
    Ok(())
}

/// [`Error::Forbidden`] unless `caller` manages `meeting_id`.
pub async fn require_manager(state: &AppState, caller: &Caller, meeting_id: &str) -> Result<(), Error> {
    caller
        .require_manager(meeting_id, |subject| async move {
            let client = state.pool.get().await?;
            store::is_manager(&client, meeting_id, &subject).await
        })
        .await
}
