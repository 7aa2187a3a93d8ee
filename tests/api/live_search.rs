//! The live search over WebSocket (§5), with real WebSocket clients.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

use crate::{
    helpers::{TestApp, assert_problem, minutes_ago, rfc3339, spawn_app, spawn_app_with},
    ws::{assert_nothing_pushed, connect, expect_close, next, search},
};

fn plates(items: &Value) -> Vec<&str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number_plate"].as_str().unwrap())
        .collect()
}

async fn park(app: &TestApp, plate: &str, name: &str, minutes_ago_entered: i64) -> Value {
    park_with_phone(app, plate, name, minutes_ago_entered, "+44 20 7946 0958").await
}

async fn park_with_phone(
    app: &TestApp,
    plate: &str,
    name: &str,
    minutes_ago_entered: i64,
    phone: &str,
) -> Value {
    app.register_ok(&json!({
        "number_plate": plate, "contact_name": name, "phone_number": phone,
        "entry_timestamp": rfc3339(minutes_ago(minutes_ago_entered)),
    }))
    .await
}

/// The ranking data set: one vehicle per rank, and one that matches nothing. Phone numbers
/// differ, two of them sharing the digits `7946 09`.
async fn park_ranked(app: &TestApp) {
    park_with_phone(app, "XAB12", "Zed", 60, "+44 20 7946 0958").await; // plate substring
    park_with_phone(app, "AB12CDE", "Ada", 50, "+44 20 7946 1111").await; // plate prefix
    park_with_phone(app, "A8I2XYZ", "Bob", 40, "+44 20 7946 2222").await; // plate prefix through look-alikes
    park_with_phone(app, "QQ99", "Mab Ab12", 30, "+44 20 7946 0977").await; // name only
    park_with_phone(app, "AB12", "Eve", 20, "+44 20 7946 3333").await; // exact plate
    park_with_phone(app, "ZZ11", "Nobody", 10, "+44 20 7946 4444").await; // no match
}

#[tokio::test]
async fn the_handshake_needs_a_key_in_a_header_or_the_query() {
    let app = spawn_app().await;
    let refused = connect_async(app.ws_url()).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("expected an HTTP refusal, got {refused:?}");
    };
    assert_eq!(response.status(), 401);

    let by_query = format!("{}?api_key={}", app.ws_url(), app.operator_key);
    let (mut ws, _) = connect_async(by_query).await.unwrap();
    assert_nothing_pushed(&mut ws).await;
    let mut bearer = app.ws_url().into_client_request().unwrap();
    bearer.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", app.admin_key).parse().unwrap(),
    );
    let (mut ws, _) = connect_async(bearer).await.unwrap();
    assert_nothing_pushed(&mut ws).await;

    let plain = app.get("/api/v1/ws/vehicles/search").send().await.unwrap();
    assert_problem(plain, 426).await;
}

#[tokio::test]
async fn results_are_ranked_as_the_contract_states_with_totals() {
    let app = spawn_app().await;
    park_ranked(&app).await;
    let mut ws = connect(&app).await;
    let results = search(&mut ws, "c1", "AB12", 20).await;
    assert_eq!(
        plates(&results["items"]),
        ["AB12", "AB12CDE", "A8I2XYZ", "XAB12", "QQ99"]
    );
    assert_eq!(results["total"], 5);
    assert_eq!(results["query"], "AB12");
    assert!(results["took_us"].as_u64().is_some());
    let first = &results["items"][0];
    assert_eq!(
        first.as_object().unwrap().len(),
        8,
        "vehicles as every endpoint returns them"
    );

    let limited = search(&mut ws, "c2", "ab12", 2).await;
    assert_eq!(plates(&limited["items"]), ["AB12", "AB12CDE"]);
    assert_eq!(limited["total"], 5, "total counts every match");

    let latest = search(&mut ws, "c3", "", 3).await;
    assert_eq!(
        plates(&latest["items"]),
        ["ZZ11", "AB12", "QQ99"],
        "an empty query gives the latest"
    );
    assert_eq!(latest["total"], 6);

    let phone = search(&mut ws, "c4", "7946 09", 20).await;
    assert_eq!(phone["total"], 2, "phone digits match");
    assert_eq!(
        plates(&phone["items"]),
        ["QQ99", "XAB12"],
        "newest first among equals"
    );
}

#[tokio::test]
async fn the_list_endpoint_q_returns_the_same_vehicles_in_the_same_order() {
    let app = spawn_app().await;
    park_ranked(&app).await;
    let mut ws = connect(&app).await;
    for q in ["ab12", "a8", "b", "mab", ""] {
        let live = search(&mut ws, "s", q, 100).await;
        let listed = app.list_ok(&[("q", q), ("limit", "500")]).await;
        assert_eq!(listed["items"], live["items"], "q={q}");
    }
    let first = app.list_ok(&[("q", "ab12"), ("limit", "2")]).await;
    let rest = app
        .list_ok(&[
            ("q", "ab12"),
            ("cursor", first["next_cursor"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(plates(&first["items"]), ["AB12", "AB12CDE"]);
    assert_eq!(plates(&rest["items"]), ["A8I2XYZ", "XAB12", "QQ99"]);
    assert_eq!(rest["next_cursor"], Value::Null);
}

#[tokio::test]
async fn expired_vehicles_never_appear() {
    let app = spawn_app().await;
    park(&app, "AB1OLD", "Old", 120).await;
    park(&app, "AB1NEW", "New", 10).await;
    app.set_retention_hours(1).await;
    let mut ws = connect(&app).await;
    let results = search(&mut ws, "e", "ab1", 20).await;
    assert_eq!(plates(&results["items"]), ["AB1NEW"]);
    assert_eq!(results["total"], 1);
    assert_eq!(search(&mut ws, "e", "", 20).await["total"], 1);
}

#[tokio::test]
async fn a_search_subscribes_to_every_kind_of_change() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await;
    assert_eq!(search(&mut ws, "live", "ab1", 20).await["total"], 0);

    // Registered by another client: pushed.
    park(&app, "AB1CDE", "Ada", 90).await;
    let added = next(&mut ws).await;
    assert_eq!(added["type"], "added");
    assert_eq!(added["id"], "live");
    assert_eq!(added["vehicle"]["number_plate"], "AB1CDE");
    // Not matching: nothing.
    park(&app, "ZZ9", "Zed", 5).await;
    assert_nothing_pushed(&mut ws).await;

    // Updated: pushed again with the new details.
    app.patch_vehicle("AB1CDE", &json!({"contact_name": "Grace"}))
        .await;
    let updated = next(&mut ws).await;
    assert_eq!(
        (
            updated["type"].as_str(),
            updated["vehicle"]["contact_name"].as_str()
        ),
        (Some("added"), Some("Grace"))
    );

    // A name match that stops matching after an update: removed.
    park(&app, "QQ7", "Mab1 Smith", 80).await;
    assert_eq!(next(&mut ws).await["vehicle"]["number_plate"], "QQ7");
    app.patch_vehicle("QQ7", &json!({"contact_name": "Mary Smith"}))
        .await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "removed", "id": "live", "number_plate": "QQ7"})
    );

    // Left: removed.
    assert_eq!(app.delete_vehicle("AB1CDE").await.status(), 204);
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "removed", "id": "live", "number_plate": "AB1CDE"})
    );
    app.delete_vehicle("ZZ9").await;
    assert_nothing_pushed(&mut ws).await;

    // Expired (retention shortened, then purged): removed once.
    park(&app, "AB1OLD", "Old", 120).await;
    assert_eq!(next(&mut ws).await["type"], "added");
    app.set_retention_hours(1).await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "removed", "id": "live", "number_plate": "AB1OLD"})
    );
    app.run_purge_job().await;
    assert_nothing_pushed(&mut ws).await;

    // Cleared: removed.
    park(&app, "AB1X", "Xavier", 1).await;
    assert_eq!(next(&mut ws).await["type"], "added");
    let cleared = app
        .admin(reqwest::Method::POST, "/api/v1/maintenance/clear")
        .json(&json!({"confirm": true, "backup": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "removed", "id": "live", "number_plate": "AB1X"})
    );

    // A new search replaces the subscription.
    search(&mut ws, "other", "zzz", 20).await;
    park(&app, "AB1NEW", "New", 1).await;
    assert_nothing_pushed(&mut ws).await;
}

#[tokio::test]
async fn a_purge_run_pushes_removed_for_matching_vehicles() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await;
    search(&mut ws, "p", "pg", 20).await;
    park(&app, "PG1", "One", 30).await;
    assert_eq!(next(&mut ws).await["type"], "added");
    // Deleted behind the index's back (another process), then purged: the purge tells.
    app.database
        .execute(
            "UPDATE vehicles SET entry_ms = entry_ms - 86400000 * 2",
            &[],
        )
        .await;
    app.run_purge_job().await;
    assert_eq!(
        next(&mut ws).await,
        json!({"type": "removed", "id": "p", "number_plate": "PG1"})
    );
}

#[tokio::test]
async fn bad_frames_get_errors_and_the_connection_stays_usable() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await;
    for (frame, code) in [
        (Message::Text("not json".into()), "invalid_message"),
        (
            Message::Text(r#"{"type":"dance","id":"d"}"#.into()),
            "invalid_message",
        ),
        (
            Message::Text(r#"{"type":"search","id":"l","limit":0}"#.into()),
            "invalid_limit",
        ),
        (
            Message::Text(
                format!(
                    r#"{{"type":"search","id":"q","query":"{}"}}"#,
                    "x".repeat(101)
                )
                .into(),
            ),
            "invalid_query",
        ),
        (Message::Binary(vec![1, 2, 3].into()), "invalid_message"),
    ] {
        ws.send(frame).await.unwrap();
        let error = next(&mut ws).await;
        assert_eq!(
            (error["type"].as_str(), error["code"].as_str()),
            (Some("error"), Some(code))
        );
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_nothing_pushed(&mut ws).await;
}

#[tokio::test]
async fn frames_over_4_kib_close_with_1009() {
    let app = spawn_app().await;
    for size in [4097, 100_000] {
        let mut ws = connect(&app).await;
        let frame = format!(r#"{{"type":"search","query":"{}"}}"#, "a".repeat(size));
        ws.send(Message::Text(frame.into())).await.unwrap();
        expect_close(&mut ws, CloseCode::Size).await;
    }
}

#[tokio::test]
async fn shutdown_closes_live_searches_with_1001() {
    let app = spawn_app().await;
    let mut ws = connect(&app).await;
    assert_nothing_pushed(&mut ws).await;
    app.stop();
    expect_close(&mut ws, CloseCode::Away).await;
}

#[tokio::test]
async fn idle_connections_are_pinged_and_dead_ones_closed() {
    let app = spawn_app_with(|s| {
        s.websocket.ping_interval = Duration::from_millis(200);
        s.websocket.idle_timeout = Duration::from_millis(600);
    })
    .await;
    // A client that keeps reading answers the pings and stays.
    let mut alive = connect(&app).await;
    let mut pings = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, alive.next()).await {
        assert!(matches!(message, Message::Ping(_)), "{message:?}");
        pings += 1;
    }
    assert!(pings >= 3, "{pings} pings");
    assert_nothing_pushed(&mut alive).await;

    // A client that stops reading stops answering and is closed as idle.
    let mut silent = connect(&app).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    expect_close(&mut silent, CloseCode::Away).await;
}

/// Polls (bounded, 10 s) the server's count of open live-search connections.
async fn open_connections_reach(app: &TestApp, expected: usize) -> bool {
    for _ in 0..500 {
        if app.state.connections.open() == expected {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected() {
    let app = spawn_app().await;
    for i in 0..100 {
        park(&app, &format!("NR{i}"), &"Long Name ".repeat(9), 5).await;
    }
    let mut ws = connect(&app).await;
    assert!(open_connections_reach(&app, 1).await);
    // Ask for ~35 KB of results again and again without ever reading them.
    let frame = json!({"type": "search", "query": "", "limit": 100}).to_string();
    for _ in 0..2000 {
        if ws.send(Message::Text(frame.clone().into())).await.is_err() {
            break;
        }
    }
    assert!(
        open_connections_reach(&app, 0).await,
        "the server kept a connection that never reads"
    );
}

#[tokio::test]
async fn connections_beyond_the_cap_are_refused_before_the_upgrade() {
    let app = spawn_app_with(|s| s.websocket.max_connections = 2).await;
    let _a = connect(&app).await;
    let _b = connect(&app).await;
    let mut request = app.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("X-API-Key", app.operator_key.parse().unwrap());
    let refused = connect_async(request).await.unwrap_err();
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else {
        panic!("expected an HTTP refusal");
    };
    assert_eq!(response.status(), 503);
}
