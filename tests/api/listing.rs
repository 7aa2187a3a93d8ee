//! GET /api/v1/vehicles: keyset pagination, filters and free-text `q`.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, error_fields, minutes_ago, rfc3339, spawn_app, vehicle,
};

/// Registers `n` vehicles; every third shares its entry time with the one before, so ties
/// must be broken by id.
async fn park_many(app: &TestApp, n: usize) -> Vec<Value> {
    let base = minutes_ago(0);
    let mut created = Vec::new();
    for i in 0..n {
        let minutes = 200 - (i - i % 3 / 2) as i64;
        let mut body = vehicle(&format!("PG{i:03}"));
        body["entry_timestamp"] = json!(rfc3339(base - chrono::TimeDelta::minutes(minutes)));
        created.push(app.register_ok(&body).await);
    }
    created
}

async fn walk(app: &TestApp, order: &str, limit: usize) -> Vec<Value> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let limit = limit.to_string();
        let mut query = vec![("order", order), ("limit", limit.as_str())];
        if let Some(c) = &cursor {
            query.push(("cursor", c));
        }
        let page = app.list_ok(&query).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= limit.parse().unwrap());
        seen.extend(items.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return seen,
        }
    }
    panic!("pagination did not end");
}

fn sort_key(v: &Value) -> (DateTime<Utc>, i64) {
    (
        v["entry_timestamp"].as_str().unwrap().parse().unwrap(),
        v["id"].as_i64().unwrap(),
    )
}

#[tokio::test]
async fn pagination_walks_every_vehicle_exactly_once_in_both_orders() {
    let app = spawn_app().await;
    let created = park_many(&app, 23).await;
    let all_ids: HashSet<i64> = created.iter().map(|v| v["id"].as_i64().unwrap()).collect();
    for (order, limit) in [
        ("entry_desc", 5),
        ("entry_asc", 5),
        ("entry_desc", 1),
        ("entry_asc", 23),
        ("entry_desc", 500),
    ] {
        let seen = walk(&app, order, limit).await;
        let ids: Vec<i64> = seen.iter().map(|v| v["id"].as_i64().unwrap()).collect();
        assert_eq!(ids.len(), 23, "{order}/{limit}: every vehicle once");
        assert_eq!(ids.iter().copied().collect::<HashSet<_>>(), all_ids);
        let mut expected = seen.clone();
        expected.sort_by_key(sort_key);
        if order == "entry_desc" {
            expected.reverse();
        }
        assert_eq!(
            seen, expected,
            "{order}/{limit}: sorted by entry time then id"
        );
    }
}

#[tokio::test]
async fn the_default_order_is_newest_first_with_a_page_of_50() {
    let app = spawn_app().await;
    park_many(&app, 52).await;
    let page = app.list_ok(&[]).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    assert!(page["next_cursor"].is_string());
    assert!(sort_key(&items[0]) > sort_key(&items[49]));
    let last = app
        .list_ok(&[("cursor", page["next_cursor"].as_str().unwrap())])
        .await;
    assert_eq!(last["items"].as_array().unwrap().len(), 2);
    assert_eq!(last["next_cursor"], Value::Null);
}

#[tokio::test]
async fn an_empty_car_park_lists_nothing() {
    let app = spawn_app().await;
    assert_eq!(
        app.list_ok(&[]).await,
        json!({"items": [], "next_cursor": null})
    );
}

#[tokio::test]
async fn entry_time_filters_are_exclusive_bounds() {
    let app = spawn_app().await;
    let created = park_many(&app, 9).await;
    let lower = created[2]["entry_timestamp"].as_str().unwrap();
    let upper = created[7]["entry_timestamp"].as_str().unwrap();
    let page = app
        .list_ok(&[
            ("entered_after", lower),
            ("entered_before", upper),
            ("order", "entry_asc"),
        ])
        .await;
    let got: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(sort_key)
        .collect();
    let (lo, hi) = (sort_key(&created[2]).0, sort_key(&created[7]).0);
    let expected: Vec<_> = created
        .iter()
        .map(sort_key)
        .filter(|(t, _)| *t > lo && *t < hi)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(got, expected);
}

#[tokio::test]
async fn q_matches_plates_through_look_alikes_names_and_phone_digits() {
    let app = spawn_app().await;
    app.register_ok(&json!({"number_plate": "AB12CDE", "contact_name": "Ada Lovelace", "phone_number": "+44 20 7946 0958"})).await;
    app.register_ok(&json!({"number_plate": "XY99ZZZ", "contact_name": "Émile Zola", "phone_number": "+44 7911 123456"})).await;
    let plates = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["number_plate"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(plates(app.list_ok(&[("q", "ab-12")]).await), ["AB12CDE"]);
    assert_eq!(
        plates(app.list_ok(&[("q", "A8I2")]).await),
        ["AB12CDE"],
        "look-alike characters"
    );
    assert_eq!(
        plates(app.list_ok(&[("q", "LOVELACE")]).await),
        ["AB12CDE"],
        "case-insensitive name"
    );
    assert_eq!(
        plates(app.list_ok(&[("q", "émile")]).await),
        ["XY99ZZZ"],
        "Unicode case folding"
    );
    assert_eq!(
        plates(app.list_ok(&[("q", "123456")]).await),
        ["XY99ZZZ"],
        "phone digits"
    );
    assert_eq!(
        plates(app.list_ok(&[("q", "79")]).await).len(),
        0,
        "two digits do not search phones"
    );
    assert_eq!(
        plates(app.list_ok(&[("q", "   ")]).await).len(),
        2,
        "an empty query matches all"
    );
    assert_eq!(plates(app.list_ok(&[("q", "nobody")]).await).len(), 0);
}

#[tokio::test]
async fn bad_parameters_are_reported_together() {
    let app = spawn_app().await;
    let problem = assert_problem(
        app.list(&[
            ("limit", "ten"),
            ("entered_after", "yesterday"),
            ("cursor", "???"),
        ])
        .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&problem), ["limit", "cursor", "entered_after"]);
    for (name, value) in [("limit", "0"), ("limit", "501"), ("order", "plate")] {
        let problem = assert_problem(app.list(&[(name, value)]).await, 422).await;
        assert_eq!(error_fields(&problem), [name]);
    }
    let problem = assert_problem(app.list(&[("q", &"x".repeat(101))]).await, 422).await;
    assert_eq!(error_fields(&problem), ["q"]);
}

#[tokio::test]
async fn a_cursor_only_continues_the_order_it_came_from() {
    let app = spawn_app().await;
    park_many(&app, 3).await;
    let page = app.list_ok(&[("limit", "1")]).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let problem = assert_problem(
        app.list(&[("cursor", cursor), ("order", "entry_asc")])
            .await,
        400,
    )
    .await;
    assert_eq!(error_fields(&problem), ["cursor"]);
}
