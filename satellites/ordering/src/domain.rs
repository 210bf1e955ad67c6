//! Orders, stock and the events the three services exchange, with the checks of what comes in
//! over HTTP or the broker (no I/O).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;
use vote_mq::{Envelope, Incoming};
use vote_satellite_kit::Error;
use vote_satellite_kit::input::{
    MAX_TEXT_CHARS, Object, int_field, json_object, optional_text_field, positive_int_field, text_field,
};

/// Event: an order was placed (OrderService).
pub const ORDER_PLACED: &str = "order.placed";
/// Event: stock was reserved for an order (InventoryService).
pub const INVENTORY_RESERVED: &str = "inventory.reserved";
/// Event: stock could not be reserved for an order (InventoryService).
pub const INVENTORY_FAILED: &str = "inventory.failed";
/// Most items one order may ask for.
pub const MAX_QTY: i32 = 1000;
/// Most units of one item in stock.
pub const MAX_STOCK: i32 = 1_000_000;

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderStatus {
    /// Saved; `order.placed` queued.
    Placed,
    /// The InventoryService reserved its stock.
    Reserved,
    /// The InventoryService could not reserve its stock.
    Failed,
}

impl OrderStatus {
    /// Every status, in the order of the flow.
    pub const ALL: [OrderStatus; 3] = [OrderStatus::Placed, OrderStatus::Reserved, OrderStatus::Failed];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Placed => "PLACED",
            OrderStatus::Reserved => "RESERVED",
            OrderStatus::Failed => "FAILED",
        }
    }

    /// Parses the stored and wire name (any case).
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// An order as the OrderService shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Order {
    /// The order's id.
    pub order_id: Uuid,
    /// What was ordered.
    pub item: String,
    /// How many.
    #[schema(minimum = 1)]
    pub qty: i32,
    /// Who ordered it.
    pub student_id: String,
    /// Where it stands.
    pub status: OrderStatus,
    /// RFC 3339 time it was placed.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339 time of its last change.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// A checked `POST /order` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    /// What is ordered.
    pub item: String,
    /// How many, 1 to [`MAX_QTY`].
    pub qty: i32,
    /// Who orders it.
    pub student_id: String,
}

impl NewOrder {
    /// From the body `{"item", "qty", "student_id"}`.
    pub fn from_request(body: &[u8]) -> Result<Self, Error> {
        let body = json_object(body)?;
        Ok(Self {
            item: text_field(&body, "item")?,
            qty: positive_int_field(&body, "qty", MAX_QTY)?,
            student_id: text_field(&body, "student_id")?,
        })
    }
}

/// The status asked for by `PATCH /orders/{id}/status` `{"status": ...}`.
pub fn status_from_request(body: &[u8]) -> Result<OrderStatus, Error> {
    let body = json_object(body)?;
    let status = text_field(&body, "status")?;
    OrderStatus::parse(&status).ok_or_else(|| {
        let names: Vec<_> = OrderStatus::ALL.iter().map(|s| s.as_str()).collect();
        Error::Invalid(format!("'status' must be one of {}", names.join(", ")))
    })
}

/// `order.placed` data; what the InventoryService reserves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderPlaced {
    /// The order's id: the InventoryService handles each once.
    pub order_id: String,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub qty: i32,
    /// Who ordered it (absent in orders from producers that do not say).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_id: Option<String>,
}

impl OrderPlaced {
    /// The order an `order.placed` message carries: an event envelope whose data is the order,
    /// or the bare order object `{"order_id", "item", "qty"[, "student_id"]}`. The error says
    /// why the message can never be handled (it is dead-lettered at once).
    pub fn decode(message: Incoming<'_>) -> Result<Self, String> {
        let value: Value = serde_json::from_slice(message.body).map_err(|e| format!("not JSON: {e}"))?;
        let order = if value.get("event_type").is_some() {
            let envelope: Envelope =
                serde_json::from_value(value).map_err(|e| format!("not an event envelope: {e}"))?;
            if envelope.event_type != ORDER_PLACED {
                return Err(format!("unexpected event type '{}'", envelope.event_type));
            }
            envelope.data
        } else {
            value
        };
        let Value::Object(order) = order else { return Err("the order must be a JSON object".to_owned()) };
        Self::from_object(&order).map_err(|e| format!("invalid order: {e}"))
    }

    fn from_object(order: &Object) -> Result<Self, Error> {
        Ok(Self {
            order_id: text_field(order, "order_id")?,
            item: text_field(order, "item")?,
            qty: positive_int_field(order, "qty", MAX_QTY)?,
            student_id: optional_text_field(order, "student_id", MAX_TEXT_CHARS)?,
        })
    }
}

/// `inventory.reserved` and `inventory.failed` data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryOutcome {
    /// The order's id.
    pub order_id: String,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub qty: i32,
    /// Who ordered it, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub student_id: Option<String>,
    /// Units left after the reservation (`inventory.reserved`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining: Option<i32>,
    /// Why nothing was reserved (`inventory.failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Units of one item in stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StockLevel {
    /// Item name (matched exactly).
    pub item: String,
    /// Units available.
    #[schema(minimum = 0)]
    pub quantity: i32,
}

/// The quantity asked for by `PUT /stock/{item}` `{"quantity": n}` (0 to [`MAX_STOCK`]).
pub fn quantity_from_request(body: &[u8]) -> Result<i32, Error> {
    int_field(&json_object(body)?, "quantity", 0, MAX_STOCK)
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vote_satellite_kit::testing::invalid;

    use super::*;

    fn incoming(body: &[u8]) -> Incoming<'_> {
        Incoming { body, routing_key: ORDER_PLACED, message_id: None }
    }

    #[test]
    fn orders_are_checked() {
        let order = NewOrder::from_request(br#"{"item":" Pizza ","qty":2,"student_id":"S123"}"#).unwrap();
        assert_eq!(order, NewOrder { item: "Pizza".to_owned(), qty: 2, student_id: "S123".to_owned() });
        for (body, expected) in [
            (&b"{"[..], "not valid JSON"),
            (b"[]", "must be a JSON object"),
            (br#"{"qty":1,"student_id":"s"}"#, "missing 'item'"),
            (br#"{"item":"","qty":1,"student_id":"s"}"#, "'item' must be"),
            (br#"{"item":"x","student_id":"s"}"#, "missing 'qty'"),
            (br#"{"item":"x","qty":0,"student_id":"s"}"#, "'qty' must be a whole number"),
            (br#"{"item":"x","qty":"2","student_id":"s"}"#, "'qty' must be a whole number"),
            (br#"{"item":"x","qty":1001,"student_id":"s"}"#, "'qty' must be a whole number"),
            (br#"{"item":"x","qty":1}"#, "missing 'student_id'"),
        ] {
            let message = invalid(NewOrder::from_request(body));
            assert!(message.contains(expected), "{}: {message}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn statuses_parse_in_any_case() {
        assert_eq!(status_from_request(br#"{"status":"reserved"}"#).unwrap(), OrderStatus::Reserved);
        assert_eq!(OrderStatus::parse("FAILED"), Some(OrderStatus::Failed));
        assert!(invalid(status_from_request(br#"{"status":"LOST"}"#)).contains("PLACED, RESERVED, FAILED"));
        assert_eq!(invalid(status_from_request(b"{}")), "missing 'status'");
        assert_eq!(serde_json::to_value(OrderStatus::Placed).unwrap(), json!("PLACED"));
    }

    #[test]
    fn order_placed_comes_in_an_envelope_or_bare() {
        let data = json!({"order_id": "o-1", "item": "Pizza", "qty": 2, "student_id": "S1"});
        let envelope = Envelope::new(ORDER_PLACED, "order-service", data.clone());
        let from_envelope = OrderPlaced::decode(incoming(&envelope.to_bytes())).unwrap();
        let bare = OrderPlaced::decode(incoming(data.to_string().as_bytes())).unwrap();
        assert_eq!(from_envelope, bare);
        assert_eq!(bare.student_id.as_deref(), Some("S1"));
        let no_student = OrderPlaced::decode(incoming(br#"{"order_id":"o","item":"x","qty":1}"#)).unwrap();
        assert_eq!(no_student.student_id, None);
    }

    #[test]
    fn malformed_orders_say_why() {
        let other = Envelope::new("order.cancelled", "t", json!({})).to_bytes();
        for (body, expected) in [
            (&b"not json"[..], "not JSON"),
            (b"[1]", "the order must be a JSON object"),
            (br#"{"event_type":"order.placed","data":{}}"#, "not an event envelope"),
            (&other, "unexpected event type 'order.cancelled'"),
            (br#"{"item":"x","qty":1}"#, "invalid order: missing 'order_id'"),
            (br#"{"order_id":"o","qty":1}"#, "invalid order: missing 'item'"),
            (br#"{"order_id":"o","item":"x"}"#, "invalid order: missing 'qty'"),
            (br#"{"order_id":"o","item":"x","qty":-3}"#, "invalid order: 'qty' must be"),
        ] {
            let why = OrderPlaced::decode(incoming(body)).unwrap_err();
            assert!(why.starts_with(expected), "{}: {why}", String::from_utf8_lossy(body));
        }
    }

    #[test]
    fn stock_quantities_may_be_zero() {
        assert_eq!(quantity_from_request(br#"{"quantity":0}"#).unwrap(), 0);
        assert_eq!(quantity_from_request(br#"{"quantity":12}"#).unwrap(), 12);
        for body in [&br#"{"quantity":-1}"#[..], br#"{"quantity":"3"}"#, br#"{"quantity":1.5}"#] {
            assert!(invalid(quantity_from_request(body)).contains("from 0 to"), "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(invalid(quantity_from_request(b"{}")), "missing 'quantity'");
    }
}
