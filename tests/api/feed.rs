//! The change feed itself: records every reader has are trimmed, none outlives retention, and
//! a reader that trimming left behind rebuilds its copies rather than miss a change.

use std::sync::Arc;

use chrono::{TimeDelta, Utc};
use parking::{
    projection::{Freshness, Projector},
    search::{EventBus, LiveSearch, Window},
    service::KeyService,
    telemetry::metrics::Metrics,
};
use serde_json::json;

use crate::{
    database::TestDatabase,
    helpers::{spawn_app, vehicle},
};

#[tokio::test]
async fn changes_every_reader_has_read_are_trimmed_by_the_purge() {
    let app = spawn_app().await;
    for plate in ["TRIM1", "TRIM2", "TRIM3"] {
        app.register_ok(&vehicle(plate)).await;
    }
    assert!(app.database.count_rows("changes").await >= 3);
    // The instance's reader records where it is (its heartbeat, made now).
    let store = &app.state.store;
    let read = store.feed_frontier().await.unwrap();
    store
        .record_reader(&app.state.instance, read, Utc::now())
        .await
        .unwrap();
    app.run_purge_job().await;
    assert_eq!(app.database.count_rows("changes").await, 0);
    // A reader starting now (a restart) starts where the trimmed feed left off, not before it.
    assert!(store.feed_frontier().await.unwrap() >= read);
    // The feed goes on after trimming.
    app.register_ok(&vehicle("TRIM4")).await;
    let found = app.list_ok(&[("q", "TRIM4")]).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn no_change_record_outlives_the_retention_period_whoever_has_not_read_it() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("OLD1")).await;
    // A reader that stopped long ago still claims an early position.
    app.state
        .store
        .record_reader("long-gone", parking::store::FeedPosition(0), Utc::now())
        .await
        .unwrap();
    let old = (Utc::now() - TimeDelta::hours(25)).timestamp_millis();
    app.database
        .execute("UPDATE changes SET at_ms = $1", &[old])
        .await;
    app.run_purge_job().await;
    assert_eq!(app.database.count_rows("changes").await, 0);
}

/// Drives a projector by hand against a store another writer also uses.
#[tokio::test]
async fn a_reader_left_behind_by_trimming_rebuilds_its_copies() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(dir.path()).await;
    let url = parking::config::Settings::from_defaults(&parking::config::Overrides {
        bind: None,
        database: Some(database.url()),
    })
    .unwrap()
    .database;
    let options = parking::store::OpenOptions::default();
    let store = parking::store::open(&url, options).await.unwrap();
    let start = store.feed_frontier().await.unwrap();
    let live = LiveSearch::load(store.clone(), EventBus::in_process())
        .await
        .unwrap();
    let mut events = live.subscribe();
    let keys = KeyService::new(store.clone(), Freshness::none());
    let freshness = Freshness::new();
    let mut projector = Projector::new(
        store.clone(),
        live.clone(),
        keys,
        Arc::new(Metrics::new()),
        "by-hand".into(),
        start,
        &freshness,
    );

    // Another writer registers a vehicle; its change is trimmed before this reader reads it.
    let other = parking::app::AppState::new(
        parking::store::open(&url, options).await.unwrap(),
        &parking::config::Settings::from_defaults(&parking::config::Overrides {
            bind: None,
            database: Some(database.url()),
        })
        .unwrap(),
        LiveSearch::new(Default::default(), EventBus::in_process(), false),
        Freshness::none(),
    )
    .await
    .unwrap();
    let body = json!({"number_plate": "MISSED1", "contact_name": "Trimmed Away", "phone_number": "+44 20 7946 0958"});
    let raw =
        serde_json::from_value::<parking::http::vehicles::dto::RegisterVehicle>(body).unwrap();
    other
        .vehicles
        .register(raw.as_raw(), &parking::domain::AuditContext::system())
        .await
        .unwrap();
    let old = (Utc::now() - TimeDelta::hours(25)).timestamp_millis();
    database
        .execute("UPDATE changes SET at_ms = $1", &[old])
        .await;
    store
        .trim_changes(Utc::now(), Utc::now() - TimeDelta::hours(24))
        .await
        .unwrap();

    projector.catch_up().await.unwrap();
    let found = live.search(
        parking::search::Query::parse("MISSED1").as_ref(),
        Window::default(),
        0,
        5,
    );
    assert_eq!(found.hits.total, 1, "the rebuilt index holds the vehicle");
    assert!(
        matches!(events.try_recv(), Ok(parking::search::VehicleEvent::Reset)),
        "live searches are told to search again"
    );
    store.close().await;
    other.store.close().await;
}

/// SQLite reads the trim mark and the changes in one statement: an empty read keeps its place,
/// a change of a kind this version does not know is read past (not read again forever), and
/// a reader behind the trim mark is told so.
#[tokio::test]
async fn the_sqlite_feed_reads_past_unknown_kinds_and_keeps_its_place_when_empty() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::Sqlite(dir.path().join("parking.db"));
    let TestDatabase::Sqlite(path) = &database else {
        unreachable!("made as a SQLite file above")
    };
    let store = parking::store::open(
        &parking::store::DatabaseUrl::Sqlite(path.clone()),
        parking::store::OpenOptions::default(),
    )
    .await
    .unwrap();
    let start = store.feed_frontier().await.unwrap();
    let empty = store.read_changes(start, 10).await.unwrap();
    assert!(empty.changes.is_empty());
    assert_eq!(empty.frontier, start);

    // A kind this version's schema refuses, as a later version's would not.
    let now = Utc::now().timestamp_millis();
    database
        .execute(
            "PRAGMA ignore_check_constraints = ON; \
             INSERT INTO changes (kind, ids, at_ms) VALUES ('retention', NULL, ?1), \
             ('from_a_later_version', NULL, ?1)",
            &[now],
        )
        .await;
    let read = store.read_changes(start, 10).await.unwrap();
    assert_eq!(read.changes.len(), 1);
    assert_eq!(read.changes[0].position, start);
    assert_eq!(read.changes[0].kind, parking::store::ChangeKind::Retention);
    assert_eq!(read.frontier.0, start.0 + 2, "read past the unknown kind");
    let limited = store.read_changes(start, 1).await.unwrap();
    assert_eq!(limited.changes.len(), 1);
    assert_eq!(limited.frontier.0, start.0 + 1);

    database
        .execute(
            "UPDATE feed_state SET trimmed_below = ?1 WHERE id = 1",
            &[start.0 + 1],
        )
        .await;
    assert!(matches!(
        store.read_changes(start, 10).await,
        Err(parking::store::StoreError::FeedTrimmed)
    ));
    let after = store
        .read_changes(parking::store::FeedPosition(start.0 + 1), 10)
        .await
        .unwrap();
    assert!(after.changes.is_empty());
    assert_eq!(after.frontier.0, start.0 + 2);
    store.close().await;
}

/// A registration this server has just written reaches its index from the rows the writer hands
/// over, but only when it is the next change to apply: a change another process wrote in
/// between is read from the database first, and both show at once.
#[tokio::test]
async fn a_change_written_elsewhere_between_two_registrations_is_applied_in_order() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("HAND1")).await;
    // Another process on the same database (as the command line would be).
    let settings = parking::config::Settings::from_defaults(&parking::config::Overrides {
        bind: None,
        database: Some(app.database.url()),
    })
    .unwrap();
    let other = parking::app::AppState::new(
        parking::store::open(&settings.database, parking::store::OpenOptions::default())
            .await
            .unwrap(),
        &settings,
        LiveSearch::new(Default::default(), EventBus::in_process(), false),
        Freshness::none(),
    )
    .await
    .unwrap();
    let raw = serde_json::from_value::<parking::http::vehicles::dto::RegisterVehicle>(json!({
        "number_plate": "HAND2", "contact_name": "Written Elsewhere", "phone_number": "+44 20 7946 0958"
    }))
    .unwrap();
    other
        .vehicles
        .register(raw.as_raw(), &parking::domain::AuditContext::system())
        .await
        .unwrap();
    app.register_ok(&vehicle("HAND3")).await;
    // Right after the 201, without waiting for the feed's poll.
    for plate in ["HAND1", "HAND2", "HAND3"] {
        let found = app.list_ok(&[("q", plate)]).await;
        assert_eq!(found["items"].as_array().unwrap().len(), 1, "{plate}");
    }
    other.store.close().await;
}
