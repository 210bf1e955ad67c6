//! The satellites' bearer-token check, side by side: a token seen for the first time (signature,
//! claims) against one remembered as verified, for RS256 and ES256.
//! Run: `cargo bench -p vote-bench --bench token_check`.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use vote_satellite_kit::auth::Verifier;
use vote_satellite_kit::auth::testing::{AUDIENCE, ISSUER, es256_token, jwks_file, token};

fn verifier(jwks: &str) -> Verifier {
    Verifier::from_jwks(jwks, ISSUER, AUDIENCE).expect("the test JWKS loads")
}

fn token_check(c: &mut Criterion) {
    let jwks = std::fs::read_to_string(jwks_file()).expect("the test JWKS");
    for (name, bearer) in [("rs256", token("alice", &["manager:m1"])), ("es256", es256_token("alice", &["manager:m1"]))]
    {
        c.bench_function(&format!("token_check/{name}/first_sight"), |b| {
            b.iter_batched(|| verifier(&jwks), |v| black_box(v.verify(&bearer)).is_ok(), BatchSize::SmallInput)
        });
        let remembered = verifier(&jwks);
        remembered.verify(&bearer).expect("a valid token");
        c.bench_function(&format!("token_check/{name}/remembered"), |b| {
            b.iter(|| black_box(remembered.verify(black_box(&bearer))).is_ok())
        });
    }
}

criterion_group!(benches, token_check);
criterion_main!(benches);
