//! A certificate authority of a test's own, for the TLS tests (`amqps://`, PostgreSQL
//! `sslmode`): a CA, a server certificate it signed, and the CA written where a client reads it.

use std::path::PathBuf;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use vote_runtime::testing;

/// A certificate authority of the test's own, and a server certificate it signed.
pub struct Pki {
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// The server certificate, then the CA's.
    pub chain: Vec<CertificateDer<'static>>,
    /// The server's private key.
    pub key: PrivatePkcs8KeyDer<'static>,
    /// The server certificate, PEM.
    pub server_cert_pem: String,
    /// The server's private key, PEM (PKCS #8).
    pub server_key_pem: String,
}

/// A fresh CA and a certificate for `server_name` signed by it.
pub fn pki(server_name: &str) -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "vote reliability test CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_key = KeyPair::generate().expect("CA key");
    let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
    let issuer = Issuer::new(ca, ca_key);
    let mut server = CertificateParams::new(vec![server_name.to_owned()]).expect("server parameters");
    server.distinguished_name.push(DnType::CommonName, server_name);
    server.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth);
    server.use_authority_key_identifier_extension = true;
    let server_key = KeyPair::generate().expect("server key");
    let server_cert = server.signed_by(&server_key, &issuer).expect("server certificate");
    Pki {
        ca_pem: ca_cert.pem(),
        chain: vec![server_cert.der().clone(), ca_cert.der().clone()],
        key: PrivatePkcs8KeyDer::from(server_key.serialize_der()),
        server_cert_pem: server_cert.pem(),
        server_key_pem: server_key.serialize_pem(),
    }
}

/// Writes a CA certificate where the engine can read it; removed on drop.
pub struct CaFile(pub PathBuf);

impl CaFile {
    /// Writes `pem` to a fresh file in the temporary directory.
    pub fn write(pem: &str) -> Self {
        let path = std::env::temp_dir().join(format!("{}.pem", testing::unique_name("reliability_ca")));
        std::fs::write(&path, pem).expect("write the CA certificate");
        Self(path)
    }
}

impl Drop for CaFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
