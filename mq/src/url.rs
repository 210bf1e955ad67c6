//! AMQP URI parsing per the RabbitMQ URI spec (<https://www.rabbitmq.com/docs/uri-spec>).
//!
//! Everything that connects to the broker starts here: credentials and vhost are
//! percent-decoded (`amqp://guest:guest@host:5672/%2f` is vhost `/`), `amqps` switches to TLS,
//! and the password never leaves this type through `Display` or `Debug`. Several URIs,
//! comma-separated, name the nodes of a cluster: a connection goes to the first that answers.

use std::fmt;

use percent_encoding::percent_decode_str;
use url::{Host, Url};

use crate::Error;

/// A parsed AMQP URI, with the other nodes of its cluster when several were given. `Display`
/// and `Debug` redact the passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct AmqpUrl {
    /// `true` for `amqps://` (TLS).
    pub tls: bool,
    /// Broker host name or address.
    pub host: String,
    /// Broker port (5672 for `amqp`, 5671 for `amqps` unless given).
    pub port: u16,
    /// User name, decoded.
    pub username: String,
    /// Password, decoded. Never logged.
    pub password: String,
    /// Virtual host, decoded (`%2f` -> `/`).
    pub vhost: String,
    /// Heartbeat interval in seconds (`?heartbeat=`), 30 s by default.
    pub heartbeat: u16,
    /// PEM file of the CA that signs the broker's certificate (`?cacertfile=`, amqps only);
    /// the built-in web PKI roots are used when absent.
    pub ca_cert_file: Option<String>,
    /// The other nodes, in the order given, tried when this one does not answer (each without
    /// alternates of its own).
    pub alternates: Vec<AmqpUrl>,
}

impl AmqpUrl {
    /// Default heartbeat: short enough to notice a dead peer within a minute.
    pub const DEFAULT_HEARTBEAT: u16 = 30;

    /// Builds a URL from separate parts (the seed's RABBITMQ_* variables).
    pub fn from_parts(host: &str, port: u16, username: &str, password: &str, vhost: &str) -> Self {
        Self {
            tls: false,
            host: host.to_owned(),
            port,
            username: username.to_owned(),
            password: password.to_owned(),
            vhost: vhost.to_owned(),
            heartbeat: Self::DEFAULT_HEARTBEAT,
            ca_cert_file: None,
            alternates: Vec::new(),
        }
    }

    /// Parses an `amqp://` or `amqps://` URI, or several separated by commas (the nodes of a
    /// cluster; a comma inside a password must be percent-encoded). Errors never contain a
    /// password.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let uris: Vec<&str> = input.split(',').map(str::trim).collect();
        let mut nodes = Vec::with_capacity(uris.len());
        for (i, uri) in uris.iter().enumerate() {
            let node = Self::parse_one(uri).map_err(|e| match e {
                Error::InvalidUrl(why) if uris.len() > 1 => {
                    Error::InvalidUrl(format!("URI {} of {}: {why}", i + 1, uris.len()))
                }
                other => other,
            })?;
            nodes.push(node);
        }
        let mut first = nodes.remove(0);
        first.alternates = nodes;
        Ok(first)
    }

    /// Every node, this one first.
    pub fn nodes(&self) -> impl Iterator<Item = &AmqpUrl> {
        std::iter::once(self).chain(&self.alternates)
    }

    fn parse_one(input: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::InvalidUrl(why.to_owned());
        let tls = match input.split_once("://") {
            Some(("amqp", _)) => false,
            Some(("amqps", _)) => true,
            _ => return Err(bad("scheme must be amqp:// or amqps://")),
        };
        // The parser's errors name what is wrong, never the input, so no password leaks.
        let url = Url::parse(input).map_err(|e| Error::InvalidUrl(format!("not a valid URI: {e}")))?;
        let (username, password) = match (url.username(), url.password()) {
            ("", None) => ("guest".to_owned(), "guest".to_owned()),
            (user, pass) => (decode(user, "user name")?, decode(pass.unwrap_or(""), "password")?),
        };
        let host = match url.host() {
            None | Some(Host::Domain("")) => "localhost".to_owned(),
            Some(Host::Domain(name)) => decode(name, "host")?,
            Some(Host::Ipv4(address)) => address.to_string(),
            Some(Host::Ipv6(address)) => address.to_string(),
        };
        let port = url.port().unwrap_or(if tls { 5671 } else { 5672 });
        // Per the spec an absent path means the default vhost "/", and an empty one means "".
        // RabbitMQ has no "" vhost, so both map to "/".
        let vhost = match url.path().strip_prefix('/').unwrap_or(url.path()) {
            "" => "/".to_owned(),
            p if p.contains('/') => return Err(bad("vhost must be a single path segment (use %2f for /)")),
            p => decode(p, "vhost")?,
        };
        let mut heartbeat = Self::DEFAULT_HEARTBEAT;
        let mut ca_cert_file = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "heartbeat" => heartbeat = value.parse().map_err(|_| bad("heartbeat must be a number of seconds"))?,
                "cacertfile" => ca_cert_file = Some(value.into_owned()),
                _ => {}
            }
        }
        Ok(Self { tls, host, port, username, password, vhost, heartbeat, ca_cert_file, alternates: Vec::new() })
    }

    /// The URL (every node's) with the password replaced by `***`, safe to log.
    pub fn redacted(&self) -> String {
        self.nodes().map(AmqpUrl::redacted_node).collect::<Vec<_>>().join(",")
    }

    /// This node's URL with the password replaced by `***`.
    pub fn redacted_node(&self) -> String {
        let scheme = if self.tls { "amqps" } else { "amqp" };
        let vhost = percent_encoding::utf8_percent_encode(&self.vhost, percent_encoding::NON_ALPHANUMERIC);
        format!("{scheme}://{}:***@{}:{}/{vhost}", self.username, self.host, self.port)
    }
}

fn decode(s: &str, what: &str) -> Result<String, Error> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| Error::InvalidUrl(format!("{what} is not valid percent-encoded UTF-8")))
}

impl fmt::Display for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl fmt::Debug for AmqpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_vhost_and_credentials() {
        let u = AmqpUrl::parse("amqp://us%40er:p%3Ass@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(u.username, "us@er");
        assert_eq!(u.password, "p:ss");
        assert_eq!(u.host, "127.0.0.1");
        assert_eq!(u.port, 5672);
        assert_eq!(u.vhost, "/");
        assert!(!u.tls);
    }

    #[test]
    fn defaults_follow_the_spec() {
        let u = AmqpUrl::parse("amqp://").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.vhost.as_str()), ("localhost", 5672, "/"));
        assert_eq!((u.username.as_str(), u.password.as_str()), ("guest", "guest"));
        let s = AmqpUrl::parse("amqps://h/prod?heartbeat=5").unwrap();
        assert_eq!((s.tls, s.port, s.vhost.as_str(), s.heartbeat), (true, 5671, "prod", 5));
        let v6 = AmqpUrl::parse("amqp://[::1]:5673").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 5673));
    }

    #[test]
    fn rejects_bad_urls_without_leaking_the_password() {
        for bad in ["http://x", "amqp://u:secret@h:notaport/", "amqp://u:secret@h/a/b", "amqp://u:%ff@h/"] {
            let err = AmqpUrl::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn several_uris_are_the_nodes_of_a_cluster_in_order() {
        let u = AmqpUrl::parse("amqp://u:p1@a:5673/%2f, amqp://u:p2@b:5674/%2f,amqps://u:p3@c/%2f").unwrap();
        let nodes: Vec<(&str, u16, &str, bool)> =
            u.nodes().map(|n| (n.host.as_str(), n.port, n.password.as_str(), n.tls)).collect();
        assert_eq!(nodes, [("a", 5673, "p1", false), ("b", 5674, "p2", false), ("c", 5671, "p3", true)]);
        assert!(u.alternates.iter().all(|n| n.alternates.is_empty()));
        assert_eq!(u.to_string(), "amqp://u:***@a:5673/%2F,amqp://u:***@b:5674/%2F,amqps://u:***@c:5671/%2F");
        let bad = AmqpUrl::parse("amqp://u:secret@a/%2f,amqp://u:secret@b:x/").unwrap_err().to_string();
        assert!(bad.contains("URI 2 of 2") && !bad.contains("secret"), "{bad}");
        assert!(AmqpUrl::parse("amqp://a/%2f,").is_err(), "an empty URI is refused");
        assert!(AmqpUrl::parse("amqp://u:a%2Cb@h/").unwrap().alternates.is_empty(), "an encoded comma is a character");
    }

    #[test]
    fn display_redacts_password() {
        let u = AmqpUrl::parse("amqp://guest:hunter2@host/%2f").unwrap();
        assert_eq!(u.to_string(), "amqp://guest:***@host:5672/%2F");
        assert!(!format!("{u:?}").contains("hunter2"));
    }
}
