//! The event envelope every satellite publishes on the `events` topic exchange.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

/// `{event_type, event_version, event_id, timestamp, producer, subject?, data}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T = serde_json::Value> {
    /// Routing key and meaning, e.g. `voting.create`.
    pub event_type: String,
    /// Schema version of `data`.
    pub event_version: u32,
    /// Unique per event; consumers deduplicate on it.
    pub event_id: Uuid,
    /// RFC 3339 time the event was produced.
    pub timestamp: String,
    /// SERVICE_NAME of the producer.
    pub producer: String,
    /// Who the producer authenticated, for an event made on a person's behalf (a ballot: the
    /// voter). Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The payload.
    pub data: T,
}

impl<T: Serialize> Envelope<T> {
    /// A fresh envelope (new event id, current time, version 1).
    pub fn new(event_type: &str, producer: &str, data: T) -> Self {
        Self {
            event_type: event_type.to_owned(),
            event_version: 1,
            event_id: Uuid::new_v4(),
            timestamp: OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
            producer: producer.to_owned(),
            subject: None,
            data,
        }
    }

    /// The envelope, made on behalf of the authenticated `subject`.
    pub fn with_subject(mut self, subject: &str) -> Self {
        self.subject = Some(subject.to_owned());
        self
    }

    /// JSON body ready to publish.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing plain data structs to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let e = Envelope::new("voting.create", "meeting-service", serde_json::json!({"a": 1}));
        let back: Envelope = serde_json::from_slice(&e.to_bytes()).unwrap();
        assert_eq!(back, e);
        assert!(OffsetDateTime::parse(&back.timestamp, &Rfc3339).is_ok());
        assert!(!String::from_utf8(e.to_bytes()).unwrap().contains("subject"), "absent, not null");
        let on_behalf = Envelope::new("poll.ballot.cast", "gateway", 1).with_subject("alice");
        let back: Envelope<i32> = serde_json::from_slice(&on_behalf.to_bytes()).unwrap();
        assert_eq!(back.subject.as_deref(), Some("alice"));
    }
}
