//! The intake's OpenAPI document: valid OpenAPI 3.1, every operation it lists reaches a route,
//! and answers no other test gets (429 and 415) are the ones it describes.

use serde_json::json;
use vote_runtime::testing;
use vote_satellite_kit::contract::{Contract, assert_routes_answer, assert_valid_openapi};
use vote_satellite_kit::testing::Http;

use crate::{Engine, Intake, ballot, intake_args};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_openapi_and_every_operation_answers() {
    let engine = Engine::start("intake_openapi").await;
    let args = intake_args(&engine, &testing::amqp_url(), &engine.url, &["--intake-rate-burst", "2"]);
    let intake = Intake::start(args).await;
    let http = Http::default();

    let (status, document) = http.get(&intake.url("/openapi.json")).await;
    assert_eq!(status, 200);
    assert_valid_openapi(&document);
    let paths = document["paths"].as_object().unwrap();
    for path in ["/votes", "/votes/batch", "/readyz", "/metrics"] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert_eq!(document["paths"]["/votes"]["post"]["security"], json!([{"bearer": []}]));
    assert_eq!(document["paths"]["/votes/batch"]["post"]["security"][0]["bearer"][0], "gateway");
    let retry_after = &document["paths"]["/votes"]["post"]["responses"]["503"]["headers"]["Retry-After"];
    assert!(retry_after.is_object(), "a 503 says when to try again");

    // Over the citizen's rate: 429, as documented (the client checks each answer).
    let grace = Http::as_caller("grace", &[]);
    for law in ["law-1", "law-2"] {
        let (status, body) = grace.post(&intake.url("/votes"), &ballot(law, "oui")).await;
        assert_eq!(status, 202, "{body}");
    }
    let (status, body) = grace.post(&intake.url("/votes"), &ballot("law-3", "oui")).await;
    assert_eq!(status, 429, "{body}");
    // A body not sent as JSON (the kit's client always says it is): 415, as documented.
    let token = vote_satellite_kit::auth::testing::token("heidi", &[]);
    let answer = reqwest::Client::new()
        .post(intake.url("/votes"))
        .bearer_auth(token)
        .body(ballot("law-1", "oui"))
        .send()
        .await
        .unwrap();
    let status = answer.status().as_u16();
    let content_type = answer.headers()["content-type"].to_str().unwrap().to_owned();
    let body = answer.bytes().await.unwrap();
    assert_eq!(status, 415, "{}", String::from_utf8_lossy(&body));
    Contract::new(document).check("POST", "/votes", None, status, &content_type, &body);

    assert_routes_answer(&intake.url("")).await;
    intake.stop().await;
    engine.stop().await;
}
