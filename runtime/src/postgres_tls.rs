//! TLS to PostgreSQL with libpq's `sslmode` and `sslrootcert` URL parameters, through rustls.
//! tokio-postgres knows only `disable`, `prefer` and `require` and verifies nothing itself, so
//! these two parameters are taken out of DATABASE_URL here and turned into a rustls connector:
//!
//! | `sslmode` | TLS | certificate checked |
//! |---|---|---|
//! | absent, `disable` | no | — |
//! | `prefer` | if the server offers it | no |
//! | `require` | yes | against `sslrootcert` when given (as libpq), else not |
//! | `verify-ca` | yes | chain to `sslrootcert` |
//! | `verify-full` | yes | chain to `sslrootcert` and the host name |
//!
//! `sslrootcert` is a PEM file of CA certificates, or `system` for the Mozilla root store
//! (managed databases with publicly trusted certificates).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The `sslmode` values this client implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// Plain TCP (no `sslmode`, or `disable`).
    #[default]
    Disable,
    /// TLS when the server offers it, unchecked.
    Prefer,
    /// TLS or nothing; the certificate is checked only against an `sslrootcert` given.
    Require,
    /// TLS, the certificate chain checked against `sslrootcert`.
    VerifyCa,
    /// TLS, the chain and the host name checked.
    VerifyFull,
}

/// Where trusted CA certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// A PEM file (`sslrootcert=/path/ca.pem`).
    File(PathBuf),
    /// The Mozilla root store (`sslrootcert=system`).
    System,
}

/// The TLS part of a DATABASE_URL.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// `sslmode`.
    pub mode: TlsMode,
    /// `sslrootcert`.
    pub root_certs: Option<RootCerts>,
}

impl TlsSettings {
    /// Takes `sslmode` and `sslrootcert` out of a URL (`postgres://...?sslmode=...`) or a
    /// `key=value` connection string, returning the rest for tokio-postgres.
    pub fn split_from(url: &str) -> Result<(String, Self), String> {
        let mut settings = Self::default();
        let mut take = |key: &str, value: &str| -> Result<bool, String> {
            match key {
                "sslmode" => {
                    settings.mode = match value {
                        "disable" => TlsMode::Disable,
                        "prefer" | "allow" => TlsMode::Prefer,
                        "require" => TlsMode::Require,
                        "verify-ca" => TlsMode::VerifyCa,
                        "verify-full" => TlsMode::VerifyFull,
                        _ => {
                            return Err(format!(
                                "sslmode must be disable, prefer, require, verify-ca or verify-full, not {value:?}"
                            ));
                        }
                    };
                    Ok(true)
                }
                "sslrootcert" => {
                    settings.root_certs = Some(match value {
                        "system" => RootCerts::System,
                        "" => return Err("sslrootcert is empty".to_owned()),
                        path => RootCerts::File(PathBuf::from(path)),
                    });
                    Ok(true)
                }
                _ => Ok(false),
            }
        };
        let rest = if url.contains("://") {
            let (base, query) = url.split_once('?').unwrap_or((url, ""));
            let mut kept = Vec::new();
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let value = percent_encoding::percent_decode_str(value)
                    .decode_utf8()
                    .map_err(|_| format!("the value of {key} is not UTF-8"))?;
                if !take(key, &value)? {
                    kept.push(pair);
                }
            }
            if kept.is_empty() { base.to_owned() } else { format!("{base}?{}", kept.join("&")) }
        } else {
            let mut kept = Vec::new();
            for word in url.split_whitespace() {
                match word.split_once('=') {
                    Some((key, value)) if take(key, value.trim_matches('\''))? => {}
                    _ => kept.push(word),
                }
            }
            kept.join(" ")
        };
        if matches!(settings.mode, TlsMode::VerifyCa | TlsMode::VerifyFull) && settings.root_certs.is_none() {
            return Err("sslmode=verify-ca and verify-full need sslrootcert (a CA file, or `system`)".to_owned());
        }
        Ok((rest, settings))
    }

    /// The mode tokio-postgres negotiates with.
    pub fn ssl_mode(&self) -> SslMode {
        match self.mode {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        }
    }

    /// The rustls connector for these settings, or `None` for plain TCP. Reads `sslrootcert`.
    pub fn connector(&self) -> Result<Option<MakeRustlsConnect>, String> {
        if self.mode == TlsMode::Disable {
            return Ok(None);
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?;
        let algorithms = provider.signature_verification_algorithms;
        let verifier: Arc<dyn ServerCertVerifier> = match (&self.root_certs, self.mode) {
            (None, _) | (Some(_), TlsMode::Prefer) => Arc::new(Lenient { chain: None, algorithms }),
            (Some(roots), mode) => {
                let chain = WebPkiServerVerifier::builder_with_provider(Arc::new(root_store(roots)?), provider)
                    .build()
                    .map_err(|e| format!("sslrootcert: {e}"))?;
                if mode == TlsMode::VerifyFull { chain } else { Arc::new(Lenient { chain: Some(chain), algorithms }) }
            }
        };
        let config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
        Ok(Some(MakeRustlsConnect::new(config)))
    }
}

fn root_store(roots: &RootCerts) -> Result<RootCertStore, String> {
    let mut store = RootCertStore::empty();
    match roots {
        RootCerts::System => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        RootCerts::File(path) => {
            let shown = path.display();
            let certs = CertificateDer::pem_file_iter(path)
                .map_err(|e| format!("sslrootcert {shown}: {e}"))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("sslrootcert {shown}: {e}"))?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(format!("sslrootcert {shown}: no CA certificate in it"));
            }
        }
    }
    Ok(store)
}

/// `verify-ca` (the chain must lead to a trusted CA; the name in the certificate is not checked),
/// and `prefer` or `require` without `sslrootcert` (no chain: encrypted, but any certificate is
/// taken). The handshake signatures are verified either way.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else { return Ok(ServerCertVerified::assertion()) };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_are_taken_out_of_urls_and_connection_strings() {
        let (rest, tls) =
            TlsSettings::split_from("postgres://u:p@h:5432/db?sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&x=1")
                .unwrap();
        assert_eq!(rest, "postgres://u:p@h:5432/db?x=1");
        assert_eq!(
            tls,
            TlsSettings { mode: TlsMode::VerifyFull, root_certs: Some(RootCerts::File("/tmp/ca.pem".into())) }
        );

        let (rest, tls) = TlsSettings::split_from("postgres://h1:5432,h2:5433/db?sslmode=require").unwrap();
        assert_eq!(
            (rest.as_str(), tls.mode, tls.ssl_mode()),
            ("postgres://h1:5432,h2:5433/db", TlsMode::Require, SslMode::Require)
        );

        let (rest, tls) = TlsSettings::split_from("host=h dbname=d sslmode=verify-ca sslrootcert=system").unwrap();
        assert_eq!(rest, "host=h dbname=d");
        assert_eq!((tls.mode, tls.root_certs), (TlsMode::VerifyCa, Some(RootCerts::System)));

        let (rest, tls) = TlsSettings::split_from("postgres://h/db").unwrap();
        assert_eq!((rest.as_str(), tls), ("postgres://h/db", TlsSettings::default()));
    }

    #[test]
    fn bad_tls_parameters_are_refused_with_what_is_wrong() {
        let err = TlsSettings::split_from("postgres://h/db?sslmode=verify").unwrap_err();
        assert!(err.starts_with("sslmode must be"), "{err}");
        let err = TlsSettings::split_from("postgres://h/db?sslmode=verify-full").unwrap_err();
        assert!(err.contains("need sslrootcert"), "{err}");
        let err =
            TlsSettings { mode: TlsMode::VerifyFull, root_certs: Some(RootCerts::File("/no/such/ca.pem".into())) }
                .connector()
                .err()
                .unwrap();
        assert!(err.starts_with("sslrootcert /no/such/ca.pem: "), "{err}");
    }
}
