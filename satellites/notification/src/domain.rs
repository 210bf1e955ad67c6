//! The notification, its checks, and what the consumers make of their messages (no I/O).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use vote_mq::Incoming;
use vote_satellite_kit::Error;
use vote_satellite_kit::input::{MAX_TEXT_CHARS, Object, long_text_field, optional_text_field, text_field};

/// Longest notification body accepted.
pub const MAX_BODY_CHARS: usize = 2000;
/// Event whose copy confirms an order to the student.
pub const INVENTORY_RESERVED: &str = "inventory.reserved";
/// `type` of an order confirmation.
pub const ORDER_CONFIRMED: &str = "order_confirmed";

/// A notification for one user: the message on `notifications_queue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    /// Who it is for.
    pub user_id: String,
    /// What kind it is, e.g. `trade_offer_accepted`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short title.
    pub title: String,
    /// Text, at most 2000 characters (`MAX_BODY_CHARS`) when it comes from the queue.
    pub body: String,
    /// The other user it is about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub related_user_id: Option<String>,
}

impl Notification {
    /// Checks a JSON object's fields (trimmed; `type`, `title` and the ids at most
    /// [`MAX_TEXT_CHARS`] characters).
    pub fn from_object(object: &Object) -> Result<Self, Error> {
        Ok(Self {
            user_id: text_field(object, "user_id")?,
            kind: text_field(object, "type")?,
            title: text_field(object, "title")?,
            body: long_text_field(object, "body", MAX_BODY_CHARS)?,
            related_user_id: optional_text_field(object, "related_user_id", MAX_TEXT_CHARS)?,
        })
    }

    /// The same checks on a notification built in code, before it is published.
    pub fn validate(&self) -> Result<(), Error> {
        match serde_json::to_value(self) {
            Ok(Value::Object(object)) => Self::from_object(&object).map(|_| ()),
            _ => Err(Error::Invalid("a notification must serialize to a JSON object".to_owned())),
        }
    }
}

/// How a stored notification is recognised when its message comes again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupKey {
    /// The publisher's message id (kept across redeliveries and retries).
    MessageId(String),
    /// No message id: a hash of the body, computed by the database.
    ContentHash(Vec<u8>),
    /// The order an order confirmation is for.
    OrderConfirmed(String),
}

impl DedupKey {
    /// The stored key, or `None` when the database derives it from the body.
    pub fn key(&self) -> Option<String> {
        match self {
            DedupKey::MessageId(id) => Some(format!("message:{id}")),
            DedupKey::ContentHash(_) => None,
            DedupKey::OrderConfirmed(order_id) => Some(format!("order-confirmed:{order_id}")),
        }
    }

    /// The body the database hashes, for [`DedupKey::ContentHash`].
    pub fn hashed_body(&self) -> Option<&[u8]> {
        match self {
            DedupKey::ContentHash(body) => Some(body),
            _ => None,
        }
    }
}

/// A notification taken from the queue, with what makes its redelivery a no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The notification.
    pub notification: Notification,
    /// Its key.
    pub key: DedupKey,
}

impl Received {
    /// Decodes a message of `notifications_queue`; the error says why it can never be stored
    /// (the message is dead-lettered at once).
    pub fn decode(message: Incoming<'_>) -> Result<Self, String> {
        let object = match serde_json::from_slice(message.body) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err("a notification must be a JSON object".to_owned()),
            Err(e) => return Err(format!("not JSON: {e}")),
        };
        let notification = Notification::from_object(&object).map_err(|e| format!("invalid notification: {e}"))?;
        let key = match message.message_id.map(str::trim).filter(|id| !id.is_empty()) {
            Some(id) => DedupKey::MessageId(id.to_owned()),
            None => DedupKey::ContentHash(message.body.to_vec()),
        };
        Ok(Self { notification, key })
    }
}

/// The part of `inventory.reserved` data an order confirmation needs.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OrderReserved {
    /// The order.
    pub order_id: String,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub qty: i64,
    /// Who ordered it: the user to notify.
    pub student_id: Option<String>,
}

impl OrderReserved {
    /// The confirmation for the student; an order without a student cannot be confirmed.
    pub fn confirmation(&self) -> Result<Notification, Error> {
        let Some(student) = self.student_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) else {
            return Err(Error::Invalid(format!("order {} has no student_id to notify", self.order_id)));
        };
        Ok(Notification {
            user_id: student.to_owned(),
            kind: ORDER_CONFIRMED.to_owned(),
            title: "Order confirmed".to_owned(),
            body: format!("Your order of {} x {} is reserved (order {}).", self.qty, self.item, self.order_id),
            related_user_id: None,
        })
    }
}

/// A notification as `GET /notifications` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredNotification {
    /// Its id (newer ones are larger).
    pub id: i64,
    /// The notification.
    #[serde(flatten)]
    pub notification: Notification,
    /// RFC 3339 time it was stored.
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn incoming<'a>(body: &'a [u8], message_id: Option<&'a str>) -> Incoming<'a> {
        Incoming { body, routing_key: "notifications_queue", message_id }
    }

    const SEED: &[u8] = br#"{"user_id":"user456","type":"trade_offer_accepted","title":"Trade Offer Accepted!","body":"Your trade offer has been accepted.","related_user_id":"user123"}"#;

    #[test]
    fn the_seed_message_decodes() {
        let r = Received::decode(incoming(SEED, Some("m-1"))).unwrap();
        assert_eq!(r.notification.user_id, "user456");
        assert_eq!(r.notification.kind, "trade_offer_accepted");
        assert_eq!(r.notification.related_user_id.as_deref(), Some("user123"));
        assert_eq!(r.key.key().as_deref(), Some("message:m-1"));
        let unnamed = Received::decode(incoming(SEED, None)).unwrap();
        assert_eq!((unnamed.key.key(), unnamed.key.hashed_body()), (None, Some(SEED)));
        assert_eq!(serde_json::to_value(&r.notification).unwrap(), serde_json::from_slice::<Value>(SEED).unwrap());
    }

    #[test]
    fn invalid_messages_say_why() {
        let long =
            json!({"user_id": "u", "type": "t", "title": "x", "body": "b".repeat(MAX_BODY_CHARS + 1)}).to_string();
        for (body, expected) in [
            (&b"{nope"[..], "not JSON"),
            (b"[]", "a notification must be a JSON object"),
            (br#"{"type":"t","title":"x","body":"b"}"#, "invalid notification: missing 'user_id'"),
            (br#"{"user_id":7,"type":"t","title":"x","body":"b"}"#, "invalid notification: 'user_id' must be"),
            (br#"{"user_id":"u","title":"x","body":"b"}"#, "invalid notification: missing 'type'"),
            (br#"{"user_id":"u","type":"t","body":"b"}"#, "invalid notification: missing 'title'"),
            (br#"{"user_id":"u","type":"t","title":"x"}"#, "invalid notification: missing 'body'"),
            (
                br#"{"user_id":"u","type":"t","title":"x","body":"b","related_user_id":""}"#,
                "invalid notification: 'related_user_id'",
            ),
            (long.as_bytes(), "invalid notification: 'body' must be"),
        ] {
            let why = Received::decode(incoming(body, None)).unwrap_err();
            assert!(why.starts_with(expected), "{}: {why}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn order_confirmations_go_to_the_student() {
        let order = OrderReserved {
            order_id: "o-1".to_owned(),
            item: "Pizza".to_owned(),
            qty: 2,
            student_id: Some("S123".to_owned()),
        };
        let n = order.confirmation().unwrap();
        assert_eq!((n.user_id.as_str(), n.kind.as_str()), ("S123", ORDER_CONFIRMED));
        assert_eq!(n.body, "Your order of 2 x Pizza is reserved (order o-1).");
        assert!(n.validate().is_ok());
        let anonymous = OrderReserved { student_id: None, ..order };
        assert!(!anonymous.confirmation().unwrap_err().is_retriable());
    }
}
