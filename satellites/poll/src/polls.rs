//! The one path of each operation on polls, shared by HTTP ([`crate::routes`]) and events
//! ([`crate::events`]): [`AppState`] creates, refuses, closes and counts polls and casts
//! ballots, each in one transaction that also queues the events it causes; the routing keys it
//! publishes and the counters it keeps are named here.

use deadpool_postgres::Pool;
use prometheus::{IntCounter, IntCounterVec};
use uuid::Uuid;
use vote_satellite_kit::outbox::Outbox;

use crate::Error;
use crate::ballot::{BallotRequest, Receipt};
use crate::cvr::{CastVoteRecord, Counting};
use crate::domain::{NewPoll, Poll, PollStatus, PollType};
use crate::results::{ClosedPoll, PollResults};
use crate::store::ballots::{self, LockedPoll};
use crate::store::{self, Creation, SourceEvent, closing};

/// Routing key (and event type) published when a `voting.create` is refused.
pub const VOTING_REFUSED: &str = "voting.refused";
/// Routing key (and event type) published when a poll is closed, with its results.
pub const VOTING_COMPLETED: &str = "voting.completed";
/// Metric: polls created, by `source` (`http` or `event`).
pub const POLLS_CREATED_TOTAL: &str = "polls_created_total";
/// Metric: new ballots stored, by `source` (`http` or `event`); repeats are not counted.
pub const BALLOTS_CAST_TOTAL: &str = "ballots_cast_total";
/// Metric: polls closed and counted.
pub const POLLS_CLOSED_TOTAL: &str = "polls_closed_total";

/// How a request arrived, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// HTTP.
    Http,
    /// An event.
    Event,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Http => "http",
            Source::Event => "event",
        }
    }
}

/// What casting a ballot did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cast {
    /// The ballot was stored.
    New(Receipt),
    /// The voter had cast this very ballot before; nothing changed.
    Repeated(Receipt),
}

/// What the HTTP and event handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Database pool.
    pub pool: Pool,
    /// Outbox of `voting.completed`.
    pub outbox: Outbox,
    /// See [`POLLS_CREATED_TOTAL`].
    pub polls_created: IntCounterVec,
    /// See [`BALLOTS_CAST_TOTAL`].
    pub ballots_cast: IntCounterVec,
    /// See [`POLLS_CLOSED_TOTAL`].
    pub polls_closed: IntCounter,
}

impl AppState {
    /// The one poll-creation path, for HTTP (`source` = `None`) and events.
    pub async fn create_poll(
        &self,
        poll: &NewPoll,
        event: Option<SourceEvent<'_>>,
        source: Source,
    ) -> Result<Creation, Error> {
        let mut client = self.pool.get().await?;
        let creation = store::create_poll(&mut client, poll, event).await?;
        if matches!(creation, Creation::Created(_)) {
            self.polls_created.with_label_values(&[source.label()]).inc();
        }
        Ok(creation)
    }

    /// Queues `voting.refused` `{uuid, reason}` for a refused `voting.create`, in the
    /// transaction that marks the event handled (a redelivery queues nothing more).
    pub async fn refuse_poll(&self, event: SourceEvent<'_>, uuid: Uuid, reason: &str) -> Result<(), Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if store::mark_event(&tx, event).await? {
            self.outbox.add(&tx, VOTING_REFUSED, serde_json::json!({"uuid": uuid, "reason": reason})).await?;
            tx.commit().await?;
            self.outbox.wake();
            tracing::warn!(event_id = %event.event_id, %uuid, %reason, "voting.create refused");
        }
        Ok(())
    }

    /// The poll, or [`Error::NotFound`].
    pub async fn get_poll(&self, uuid: Uuid) -> Result<Poll, Error> {
        let client = self.pool.get().await?;
        store::get_poll(&client, uuid).await?.ok_or_else(|| Error::NotFound(format!("poll {uuid}")))
    }

    /// The one ballot path, for HTTP and events. One ballot per voter per poll: the same ballot
    /// again is [`Cast::Repeated`] (also once the poll closed), another one a conflict, as is
    /// a new ballot on a closed poll.
    pub async fn cast_ballot(&self, poll_uuid: Uuid, ballot: &BallotRequest, source: Source) -> Result<Cast, Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let unknown = || Error::NotFound(format!("poll {poll_uuid}"));
        let LockedPoll { id, poll } = ballots::lock_poll_for_ballot(&tx, poll_uuid).await?.ok_or_else(unknown)?;
        let ranking = ballot.ranking_on(&poll)?;
        let voter = ballot.voter_id.as_str();
        let existing = match ballots::find_ballot(&tx, id, voter).await? {
            Some(existing) => existing,
            None if poll.status == PollStatus::Closed => {
                return Err(Error::Conflict(format!("poll {poll_uuid} is closed")));
            }
            None => {
                let ballot_id = Uuid::new_v4();
                if ballots::insert_ballot(&tx, ballot_id, id, voter, &ranking).await? {
                    tx.commit().await?;
                    self.ballots_cast.with_label_values(&[source.label()]).inc();
                    return Ok(Cast::New(Receipt::new(ballot_id, &poll, voter, &ranking)));
                }
                // A concurrent request of the same voter took the key first: compare with it.
                ballots::find_ballot(&tx, id, voter).await?.ok_or_else(unknown)?
            }
        };
        let (ballot_id, stored) = existing;
        if stored != ranking {
            return Err(Error::Conflict(format!(
                "voter {voter} already cast a different ballot ({ballot_id}) on poll {poll_uuid}"
            )));
        }
        Ok(Cast::Repeated(Receipt::new(ballot_id, &poll, voter, &stored)))
    }

    /// Closes the poll and counts it in one transaction, which also queues `voting.completed`
    /// with the results in the outbox. Closing a counted poll again changes and publishes
    /// nothing and answers the same results.
    pub async fn close_poll(&self, uuid: Uuid) -> Result<ClosedPoll, Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let LockedPoll { id, mut poll } =
            closing::lock_poll_for_close(&tx, uuid).await?.ok_or_else(|| Error::NotFound(format!("poll {uuid}")))?;
        if let Some(results) = closing::results(&tx, uuid).await? {
            return Ok(ClosedPoll { poll, results });
        }
        let results = PollResults::count(&poll, &closing::rankings(&tx, id).await?);
        closing::insert_results(&tx, id, &results).await?;
        // A poll closed before ballots were counted gets its results, without a second event.
        let was_open = poll.status == PollStatus::Open;
        poll.status = PollStatus::Closed;
        let closed = ClosedPoll { poll, results };
        if was_open {
            let event_id = self.outbox.add(&tx, VOTING_COMPLETED, &closed).await?;
            closing::mark_closed(&tx, id, event_id).await?;
        }
        tx.commit().await?;
        self.outbox.wake();
        self.polls_closed.inc();
        tracing::info!(%uuid, winner = ?closed.results.winner, tied = ?closed.results.tied, ballots = closed.results.ballots, "poll closed and counted");
        Ok(closed)
    }

    /// The poll and the number of ballots cast on it so far.
    pub async fn poll_with_ballots(&self, uuid: Uuid) -> Result<(Poll, u64), Error> {
        let client = self.pool.get().await?;
        let poll = store::get_poll(&client, uuid).await?.ok_or_else(|| Error::NotFound(format!("poll {uuid}")))?;
        Ok((poll, store::count_ballots(&client, uuid).await?))
    }

    /// The anonymous cast-vote record of a closed poll (never of an open one: a conflict).
    pub async fn cast_vote_record(&self, uuid: Uuid) -> Result<CastVoteRecord, Error> {
        let client = self.pool.get().await?;
        let poll = store::get_poll(&client, uuid).await?.ok_or_else(|| Error::NotFound(format!("poll {uuid}")))?;
        if poll.status == PollStatus::Open {
            return Err(Error::Conflict(format!("poll {uuid} is open: its ballots are published once it closes")));
        }
        let counting = match poll.poll_type {
            PollType::Single => Counting::Plurality,
            PollType::Ranked => Counting::Ranked { seats: poll.seats as usize },
        };
        let rankings = closing::rankings_of(&client, uuid).await?;
        Ok(CastVoteRecord::new(poll.title.clone(), Some(counting), poll.options, rankings))
    }

    /// The closed poll with its results; a conflict while it is open.
    pub async fn results(&self, uuid: Uuid) -> Result<ClosedPoll, Error> {
        let client = self.pool.get().await?;
        let poll = store::get_poll(&client, uuid).await?.ok_or_else(|| Error::NotFound(format!("poll {uuid}")))?;
        if poll.status == PollStatus::Open {
            return Err(Error::Conflict(format!("poll {uuid} is open: it is counted when it closes")));
        }
        let results =
            closing::results(&client, uuid).await?.ok_or_else(|| Error::NotFound(format!("results of poll {uuid}")))?;
        Ok(ClosedPoll { poll, results })
    }
}
