//! Checks of JSON request bodies and event payloads (no I/O). Bodies are read as bytes and
//! checked here rather than by axum's `Json`, so that every problem has a precise message.

use serde_json::{Map, Value};
use uuid::Uuid;

use crate::Error;

/// Longest short text (a title, a user id, an item name) accepted.
pub const MAX_TEXT_CHARS: usize = 200;

/// A JSON object's fields.
pub type Object = Map<String, Value>;

/// Parses an HTTP body as a JSON object.
pub fn json_object(body: &[u8]) -> Result<Object, Error> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::Invalid("request body must be a JSON object".to_owned())),
        Err(e) => Err(Error::Invalid(format!("request body is not valid JSON: {e}"))),
    }
}

/// A required, non-empty text field of at most [`MAX_TEXT_CHARS`] characters, trimmed.
pub fn text_field(object: &Object, field: &str) -> Result<String, Error> {
    long_text_field(object, field, MAX_TEXT_CHARS)
}

/// A required, non-empty text field of at most `max_chars` characters, trimmed.
pub fn long_text_field(object: &Object, field: &str, max_chars: usize) -> Result<String, Error> {
    optional_text_field(object, field, max_chars)?.ok_or_else(|| Error::Invalid(format!("missing '{field}'")))
}

/// An optional text field (absent or null: `None`); when present, non-empty and at most
/// `max_chars` characters, trimmed.
pub fn optional_text_field(object: &Object, field: &str, max_chars: usize) -> Result<Option<String>, Error> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() && s.chars().count() <= max_chars => {
            Ok(Some(s.trim().to_owned()))
        }
        Some(_) => {
            Err(Error::Invalid(format!("'{field}' must be a non-empty string of at most {max_chars} characters")))
        }
    }
}

/// A required whole number from 1 to `max` (a JSON number, not a string; `2.0` is refused).
pub fn positive_int_field(object: &Object, field: &str, max: i32) -> Result<i32, Error> {
    int_field(object, field, 1, max)
}

/// A required whole number from `min` to `max` (a JSON number, not a string; `2.0` is refused).
pub fn int_field(object: &Object, field: &str, min: i32, max: i32) -> Result<i32, Error> {
    let bad = || Error::Invalid(format!("'{field}' must be a whole number from {min} to {max}"));
    match object.get(field) {
        None | Some(Value::Null) => Err(Error::Invalid(format!("missing '{field}'"))),
        Some(Value::Number(n)) => n
            .as_i64()
            .filter(|v| (i64::from(min)..=i64::from(max)).contains(v))
            .and_then(|v| i32::try_from(v).ok())
            .ok_or_else(bad),
        Some(_) => Err(bad()),
    }
}

/// A `limit` query parameter: `default` when absent, otherwise from 1 to `max`.
pub fn limit_param(limit: Option<i64>, default: i64, max: i64) -> Result<i64, Error> {
    let limit = limit.unwrap_or(default);
    if (1..=max).contains(&limit) { Ok(limit) } else { Err(Error::Invalid(format!("'limit' must be from 1 to {max}"))) }
}

/// An optional text query parameter: when present, non-empty and at most [`MAX_TEXT_CHARS`]
/// characters, trimmed.
pub fn text_param<'a>(value: Option<&'a str>, name: &str) -> Result<Option<&'a str>, Error> {
    match value.map(str::trim) {
        Some(v) if v.is_empty() || v.chars().count() > MAX_TEXT_CHARS => {
            Err(Error::Invalid(format!("'{name}' must be a non-empty string of at most {MAX_TEXT_CHARS} characters")))
        }
        other => Ok(other),
    }
}

/// A path segment that must be a UUID; `what` names it in the error.
pub fn parse_id(id: &str, what: &str) -> Result<Uuid, Error> {
    Uuid::parse_str(id).map_err(|_| Error::Invalid(format!("{what} id must be a UUID")))
}

/// Decodes an event's data; a mismatch is permanent (the event is dead-lettered).
pub fn event_data<T: serde::de::DeserializeOwned>(event_type: &str, data: Value) -> Result<T, Error> {
    serde_json::from_value(data).map_err(|e| Error::Invalid(format!("bad {event_type} data: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::testing::invalid;

    #[test]
    fn text_fields_are_required_trimmed_and_bounded() {
        let body = json_object(br#"{"title":"  Board  ","n":3,"e":""}"#).unwrap();
        assert_eq!(text_field(&body, "title").unwrap(), "Board");
        assert_eq!(invalid(text_field(&body, "missing")), "missing 'missing'");
        assert!(invalid(text_field(&body, "n")).starts_with("'n' must be"));
        assert!(invalid(text_field(&body, "e")).starts_with("'e' must be"));
        let long = json!({"t": "x".repeat(MAX_TEXT_CHARS + 1)});
        assert!(invalid(text_field(long.as_object().unwrap(), "t")).starts_with("'t' must be"));
        assert_eq!(long_text_field(long.as_object().unwrap(), "t", 1000).unwrap().len(), MAX_TEXT_CHARS + 1);
        assert_eq!(optional_text_field(&body, "missing", 10).unwrap(), None);
    }

    #[test]
    fn positive_ints_are_whole_numbers_in_range() {
        let body = json!({"a": 2, "zero": 0, "neg": -1, "frac": 1.5, "float": 2.0, "text": "2", "big": 1_000_001});
        let body = body.as_object().unwrap();
        assert_eq!(positive_int_field(body, "a", 10).unwrap(), 2);
        for field in ["zero", "neg", "frac", "float", "text", "big"] {
            assert!(invalid(positive_int_field(body, field, 1_000_000)).contains("whole number"), "{field}");
        }
        assert_eq!(invalid(positive_int_field(body, "none", 5)), "missing 'none'");
        assert_eq!(int_field(body, "zero", 0, 5).unwrap(), 0);
        assert_eq!(invalid(int_field(body, "neg", 0, 5)), "'neg' must be a whole number from 0 to 5");
    }

    #[test]
    fn bodies_must_be_json_objects() {
        assert!(invalid(json_object(b"{")).starts_with("request body is not valid JSON"));
        assert_eq!(invalid(json_object(b"[1]")), "request body must be a JSON object");
    }

    #[test]
    fn query_parameters() {
        assert_eq!(limit_param(None, 100, 1000).unwrap(), 100);
        assert_eq!(limit_param(Some(5), 100, 1000).unwrap(), 5);
        assert_eq!(invalid(limit_param(Some(0), 100, 1000)), "'limit' must be from 1 to 1000");
        assert_eq!(text_param(Some(" u1 "), "user_id").unwrap(), Some("u1"));
        assert_eq!(text_param(None, "user_id").unwrap(), None);
        assert!(invalid(text_param(Some(""), "user_id")).starts_with("'user_id' must be"));
    }

    #[test]
    fn ids_and_event_data() {
        assert_eq!(invalid(parse_id("x", "order")), "order id must be a UUID");
        #[derive(Debug, serde::Deserialize)]
        struct Data {
            #[allow(dead_code)]
            n: u32,
        }
        let e = event_data::<Data>("thing.done", json!({"m": 1})).unwrap_err();
        assert!(!e.is_retriable());
        assert!(e.to_string().starts_with("bad thing.done data"));
    }
}
