//! The HTTP endpoints of the order and inventory services against the real servers: what they
//! answer, and a JSON 400 for every bad request.

use crate::common;

use common::world;
use serde_json::json;
use uuid::Uuid;
use vote_satellite_kit::testing::{Http, metric};

#[tokio::test]
async fn order_endpoints_answer_and_refuse_bad_requests_with_json_400() {
    let w = world().await;
    let orders = w.order_service().await;
    let cases = [
        ("", "not valid JSON"),
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (r#"{"qty":1,"student_id":"S1"}"#, "missing 'item'"),
        (r#"{"item":" ","qty":1,"student_id":"S1"}"#, "'item' must be a non-empty string"),
        (r#"{"item":"Pizza","student_id":"S1"}"#, "missing 'qty'"),
        (r#"{"item":"Pizza","qty":0,"student_id":"S1"}"#, "'qty' must be a whole number from 1 to 1000"),
        (r#"{"item":"Pizza","qty":-2,"student_id":"S1"}"#, "'qty' must be a whole number"),
        (r#"{"item":"Pizza","qty":1.5,"student_id":"S1"}"#, "'qty' must be a whole number"),
        (r#"{"item":"Pizza","qty":"2","student_id":"S1"}"#, "'qty' must be a whole number"),
        (r#"{"item":"Pizza","qty":2}"#, "missing 'student_id'"),
        (r#"{"item":"Pizza","qty":2,"student_id":7}"#, "'student_id' must be"),
    ];
    for (body, expected) in cases {
        let (status, answer) = w.http.post(&orders.url("/order"), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_else(|| panic!("{body}: no error in {answer}"));
        assert!(error.contains(expected), "{body}: {error}");
    }
    let (_, none) = w.http.get(&orders.url("/orders")).await;
    assert_eq!(none, json!([]), "no bad request saved an order");

    let first = w.place(&orders, "Pizza", 2, "S1").await;
    let second = w.place(&orders, "Salad", 1, "S2").await;
    let (status, all) = w.http.get(&orders.url("/orders")).await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = all.as_array().unwrap().iter().map(|o| o["order_id"].as_str().unwrap()).collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");
    let (_, mine) = w.http.get(&orders.url("/orders?student_id=S1&limit=5")).await;
    assert_eq!(mine.as_array().unwrap().len(), 1);
    assert_eq!(mine[0]["order_id"], first.as_str());
    for (query, expected) in
        [("limit=abc", "limit"), ("limit=0", "'limit' must be from 1 to 1000"), ("student_id=", "'student_id' must be")]
    {
        let (status, answer) = w.http.get(&orders.url(&format!("/orders?{query}"))).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(expected), "{query}: {answer}");
    }

    let (status, order) = w.http.get(&orders.url(&format!("/orders/{first}"))).await;
    assert_eq!((status, order["status"].as_str()), (200, Some("PLACED")));
    let (status, answer) = w.http.get(&orders.url(&format!("/orders/{}", Uuid::new_v4()))).await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer["error"].as_str().unwrap().ends_with("not found"));
    let (status, answer) = w.http.get(&orders.url("/orders/42")).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("order id must be a UUID")));
    let (status, answer) = w.http.get(&orders.url("/order")).await;
    assert_eq!((status, answer["error"].as_str()), (405, Some("method not allowed")));
    orders.stop().await;
}

#[tokio::test]
async fn patching_a_status_sets_it_and_refuses_bad_requests_with_json_400() {
    let w = world().await;
    let orders = w.order_service().await;
    let id = w.place(&orders, "Burger", 1, "S1").await;
    let url = orders.url(&format!("/orders/{id}/status"));
    for (body, expected) in [
        ("", "not valid JSON"),
        ("\"RESERVED\"", "must be a JSON object"),
        ("{}", "missing 'status'"),
        (r#"{"status":3}"#, "'status' must be"),
        (r#"{"status":"EATEN"}"#, "'status' must be one of PLACED, RESERVED, FAILED"),
    ] {
        let (status, answer) = w.http.patch(&url, body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(expected), "{body}: {answer}");
    }
    // Only the order-callback's role sets a status: not the student, not without a token.
    for (caller, expected) in [(Http::as_caller("S1", &[]), 403), (Http::default(), 401)] {
        let (status, answer) = caller.patch(&url, r#"{"status":"FAILED"}"#).await;
        assert_eq!(status, expected, "{answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    assert_eq!(w.http.get(&orders.url(&format!("/orders/{id}"))).await.1["status"], "PLACED", "unchanged");
    let (status, order) = w.http.patch(&url, r#"{"status":"RESERVED"}"#).await;
    assert_eq!((status, order["status"].as_str()), (200, Some("RESERVED")));
    let (status, order) = w.http.patch(&url, r#"{"status":"RESERVED"}"#).await;
    assert_eq!((status, order["status"].as_str()), (200, Some("RESERVED")), "setting it again is harmless");
    let unknown = Uuid::new_v4();
    let (status, answer) =
        w.http.patch(&orders.url(&format!("/orders/{unknown}/status")), r#"{"status":"FAILED"}"#).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some(format!("order {unknown} not found").as_str())));
    let (status, answer) = w.http.patch(&orders.url("/orders/nope/status"), r#"{"status":"FAILED"}"#).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("order id must be a UUID")));
    let metrics = w.http.text(&orders.url("/metrics")).await;
    assert_eq!(metric(&metrics, r#"order_status_updates_total{status="RESERVED"}"#), Some(2.0), "{metrics}");
    orders.stop().await;
}

#[tokio::test]
async fn stock_can_be_read_and_set_and_bad_requests_are_json_400() {
    let w = world().await;
    let inventory = w.inventory_service().await;
    let (status, stock) = w.http.get(&inventory.url("/stock")).await;
    assert_eq!(status, 200);
    let items: Vec<&str> = stock.as_array().unwrap().iter().map(|l| l["item"].as_str().unwrap()).collect();
    assert_eq!(items, ["Burger", "Coffee", "Pizza", "Salad", "Sandwich"], "seeded by the migration");

    let (status, level) = w.http.put(&inventory.url("/stock/Bagel"), r#"{"quantity":12}"#).await;
    assert_eq!((status, level), (200, json!({"item": "Bagel", "quantity": 12})));
    let (status, level) = w.http.put(&inventory.url("/stock/Hot%20Dog"), r#"{"quantity":0}"#).await;
    assert_eq!((status, level["item"].as_str()), (200, Some("Hot Dog")));
    assert_eq!(w.stock(&inventory, "Bagel").await, 12);
    for body in ["", "{}", r#"{"quantity":-1}"#, r#"{"quantity":"5"}"#, r#"{"quantity":1000001}"#] {
        let (status, answer) = w.http.put(&inventory.url("/stock/Bagel"), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].is_string(), "{body}: {answer}");
    }
    let (status, answer) = w.http.get(&inventory.url("/stock/Caviar")).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some("item 'Caviar' not found")));
    let (status, answer) = w.http.put(&inventory.url("/stock/%20"), r#"{"quantity":1}"#).await;
    let expected = "item name must be non-empty and at most 200 characters";
    assert_eq!((status, answer["error"].as_str()), (400, Some(expected)));
    assert_eq!(w.stock(&inventory, "Bagel").await, 12, "refused requests changed nothing");
    inventory.stop().await;
}
