//! `loadgen token`: a bearer token for the services, signed with the local development key
//! that `scripts/dev-auth-keys.sh` makes (the services trust its JWKS through
//! AUTH_JWKS_FILE). For local runs and tests only: a real deployment's tokens come from its
//! identity provider.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use vote_satellite_kit::auth::token::{claims, sign};

use crate::Error;
use crate::duration::parse_duration;

/// `loadgen token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The caller's identity (`sub`): the voter, the student, the manager.
    #[arg(long)]
    pub sub: String,
    /// A role to hold, repeatable: `manager:<meeting_id>`, `order-callback`, `inventory-manager`.
    #[arg(long = "role")]
    pub roles: Vec<String>,
    /// The key and the claims the services check.
    #[command(flatten)]
    pub signing: SigningArgs,
    /// How long the token is valid (`30m`, `1h`, `90s`).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    pub ttl: Duration,
}

/// How tokens are signed: the development key and the issuer and audience the services expect.
#[derive(Debug, Clone, Args)]
pub struct SigningArgs {
    /// PEM private key to sign with (EC P-256: ES256; RSA: RS256).
    #[arg(long, env = "AUTH_SIGNING_KEY_FILE", default_value = ".dev/auth/signing-key.pem")]
    pub key_file: PathBuf,
    /// `kid` written in the token's header (the key's id in the JWKS).
    #[arg(long, env = "AUTH_SIGNING_KEY_ID", default_value = "dev-es256")]
    pub kid: String,
    /// `iss` claim: the services' AUTH_ISSUER.
    #[arg(long, env = "AUTH_ISSUER", default_value = "vote-platform-dev")]
    pub issuer: String,
    /// `aud` claim: the services' AUTH_AUDIENCE.
    #[arg(long, env = "AUTH_AUDIENCE", default_value = "vote-platform")]
    pub audience: String,
}

impl SigningArgs {
    /// The private key's PEM bytes.
    pub fn read_key(&self) -> Result<Vec<u8>, Error> {
        std::fs::read(&self.key_file).map_err(|e| {
            Error::Config(format!(
                "AUTH_SIGNING_KEY_FILE {}: {e} (scripts/dev-auth-keys.sh makes a development key)",
                self.key_file.display()
            ))
        })
    }
}

/// The signed token.
pub fn make_token(args: &TokenArgs) -> Result<String, Error> {
    if args.sub.trim().is_empty() {
        return Err(Error::Config("--sub must not be empty".to_owned()));
    }
    let signing = &args.signing;
    let key = signing.read_key()?;
    let claims = claims(&args.sub, &args.roles, &signing.issuer, &signing.audience, args.ttl.as_secs().max(1));
    sign(&claims, &key, Some(&signing.kid)).map_err(|e| Error::Config(format!("AUTH_SIGNING_KEY_FILE: {e}")))
}

#[cfg(test)]
mod tests {
    use clap::Parser;
    use vote_satellite_kit::auth::Authenticator;
    use vote_satellite_kit::auth::testing;

    use super::*;
    use crate::cli::{Cli, Command};

    #[test]
    fn a_minted_token_is_accepted_with_its_subject_and_roles() {
        let key = concat!(env!("CARGO_MANIFEST_DIR"), "/../satellites/kit/src/auth/testdata/ec-key.pem");
        let cli = Cli::try_parse_from([
            "loadgen",
            "token",
            "--sub",
            "alice",
            "--role",
            "manager:m1",
            "--role",
            "order-callback",
            "--key-file",
            key,
            "--kid",
            testing::EC_KID,
            "--issuer",
            testing::ISSUER,
            "--audience",
            testing::AUDIENCE,
        ])
        .unwrap();
        let Command::Token(args) = cli.command else { panic!("not the token command") };
        let token = make_token(&args).unwrap();
        let auth = Authenticator::from_settings(&testing::settings()).unwrap();
        let mut headers = axum_headers(&token);
        let caller = auth.authenticate(&headers).unwrap();
        assert_eq!(caller.subject(), "alice");
        assert!(caller.has_role("manager:m1") && caller.has_role("order-callback"));
        let other_issuer = SigningArgs { issuer: "other".into(), ..args.signing.clone() };
        headers = axum_headers(&make_token(&TokenArgs { signing: other_issuer, ..args.clone() }).unwrap());
        assert!(auth.authenticate(&headers).is_err(), "another issuer is refused");
        let missing_key = SigningArgs { key_file: "/nonexistent/key.pem".into(), ..args.signing.clone() };
        let missing = TokenArgs { signing: missing_key, ..args };
        assert!(matches!(make_token(&missing), Err(Error::Config(m)) if m.contains("AUTH_SIGNING_KEY_FILE")));
    }

    fn axum_headers(token: &str) -> vote_satellite_kit::auth::HeaderMap {
        let mut headers = vote_satellite_kit::auth::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        headers
    }
}
