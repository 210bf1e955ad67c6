//! Hostile requests at both doors (see the kit's `hostile` module): never a 5xx, never an
//! internal error text, and a refused request accepts no vote.

use reqwest::Method;
use serde_json::json;
use vote_runtime::testing;
use vote_satellite_kit::hostile::{Endpoint, throw_at};

use crate::{Engine, Intake, intake_args};

#[test]
fn hostile_requests_get_4xx_and_accept_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let engine = runtime.block_on(Engine::start("intake_hostile"));
    let args = intake_args(&engine, &testing::amqp_url(), &engine.url, &["--intake-rate-burst", "1000"]);
    let intake = runtime.block_on(Intake::start(args));
    // The gateway role opens both doors, so spoiled requests reach both handlers' logic.
    let token = vote_satellite_kit::auth::testing::token("station-h", &["gateway"]);
    let endpoints = [
        Endpoint::new(Method::POST, "/votes", Some(json!({"law_id": "law-h", "choice": "oui"}))),
        Endpoint::new(
            Method::POST,
            "/votes/batch",
            Some(json!({"votes": [{"citizen_id": "c-h", "law_id": "law-h", "choice": "non"}]})),
        ),
    ];
    let accepted = || {
        runtime.block_on(async {
            let text = reqwest::get(intake.url("/metrics")).await.unwrap().text().await.unwrap();
            testing::metric(&text, "intake_votes_total{outcome=\"accepted\"}").unwrap_or(-1.0).to_string()
        })
    };
    throw_at(&runtime, &intake.url(""), &token, &endpoints, 96, accepted);
    runtime.block_on(intake.stop());
    runtime.block_on(engine.stop());
}
