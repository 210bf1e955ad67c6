//! The service's OpenAPI document: valid OpenAPI 3.1, and every operation it lists reaches a
//! route. (Every answer the other tests get is checked against it by the kit's client.)

use vote_satellite_kit::contract::{assert_routes_answer, assert_valid_openapi};

use crate::common::spawn_app;

#[tokio::test]
async fn the_document_is_valid_openapi_and_every_operation_answers() {
    let app = spawn_app().await;
    let (status, document) = app.http.get(&app.url("/openapi.json")).await;
    assert_eq!(status, 200);
    assert_valid_openapi(&document);
    let paths = document["paths"].as_object().unwrap();
    for path in ["/polls", "/polls/{poll_id}", "/polls/{poll_id}/ballots", "/polls/{poll_id}/close", "/metrics"] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert_eq!(document["paths"]["/polls/{poll_id}/close"]["post"]["security"][0]["bearer"][0], "manager:{meeting_id}");
    assert_routes_answer(&app.url("")).await;
    app.stop().await;
}
