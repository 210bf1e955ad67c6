//! The headers the consumer loop sets when it republishes a message for a retry (a dead
//! letter's own are in [`crate::dead_letter`]).

/// Header carrying how many times handling this message has failed with a retriable error.
pub const ATTEMPTS_HEADER: &str = "x-attempts";
/// Header carrying the routing key the message was first published with (retries and
/// dead-letters are republished under another key).
pub const ORIGINAL_ROUTING_KEY_HEADER: &str = "x-original-routing-key";

/// The message's string headers minus the ones the loop sets, followed by `extra`.
pub(super) fn forwarded_headers(original: Vec<(String, String)>, extra: Vec<(&str, String)>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> =
        original.into_iter().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).collect();
    headers.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_headers_replace_the_loops_own() {
        let original = vec![("trace".to_owned(), "t1".to_owned()), (ATTEMPTS_HEADER.to_owned(), "1".to_owned())];
        let out = forwarded_headers(original, vec![(ATTEMPTS_HEADER, "2".to_owned())]);
        assert_eq!(out, [("trace".to_owned(), "t1".to_owned()), (ATTEMPTS_HEADER.to_owned(), "2".to_owned())]);
    }
}
