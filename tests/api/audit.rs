//! The audit log: every critical operation, with actor and request id, and no personal data.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, error_fields, minutes_ago, rfc3339, spawn_app, vehicle,
};

const PLATE: &str = "ab-12 cde";
const NAME: &str = "Philippa Quillfeather";
const NEW_NAME: &str = "Bartholomew Wexley";

/// Performs every audited operation once, each with its own request id.
async fn do_everything(app: &TestApp) {
    // One request with a request id, and the status it must get.
    let step = |method: Method,
                path: &'static str,
                id: &'static str,
                key: String,
                body: Option<Value>,
                status: u16| async move {
        let mut request = app
            .client
            .request(method, app.url(path))
            .header("X-API-Key", key)
            .header("X-Request-Id", id);
        if let Some(body) = body {
            request = request.json(&body);
        }
        assert_eq!(request.send().await.unwrap().status(), status, "{id}");
    };
    let (op, admin) = (app.operator_key.clone(), app.admin_key.clone());
    let body =
        json!({"number_plate": PLATE, "contact_name": NAME, "phone_number": "+44 20 7946 0111"});
    step(
        Method::POST,
        "/api/v1/vehicles",
        "r-create",
        op.clone(),
        Some(body),
        201,
    )
    .await;
    let patch = json!({"contact_name": NEW_NAME, "phone_number": "+44 20 7946 0222"});
    step(
        Method::PATCH,
        "/api/v1/vehicles/AB12CDE",
        "r-update",
        op.clone(),
        Some(patch),
        200,
    )
    .await;
    step(
        Method::DELETE,
        "/api/v1/vehicles/AB12CDE",
        "r-delete",
        op,
        None,
        204,
    )
    .await;
    let mut old = vehicle("PURGE9");
    old["entry_timestamp"] = json!(rfc3339(minutes_ago(120)));
    app.register_ok(&old).await;
    let retention = json!({"retention_hours": 1});
    step(
        Method::PUT,
        "/api/v1/config/retention",
        "r-retention",
        admin.clone(),
        Some(retention),
        200,
    )
    .await;
    step(
        Method::POST,
        "/api/v1/maintenance/purge",
        "r-purge",
        admin.clone(),
        None,
        200,
    )
    .await;
    step(
        Method::POST,
        "/api/v1/maintenance/backup",
        "r-backup",
        admin.clone(),
        None,
        201,
    )
    .await;
    app.register_ok(&vehicle("CLEAR1")).await;
    let clear = json!({"confirm": true, "backup": false});
    step(
        Method::POST,
        "/api/v1/maintenance/clear",
        "r-clear",
        admin,
        Some(clear),
        200,
    )
    .await;
    let ctx = parking::domain::AuditContext::command_line();
    let spec = parking::domain::NewKeySpec {
        name: parking::domain::KeyName::parse("temp").unwrap(),
        role: parking::domain::Role::Operator,
        expires_at: None,
    };
    let (key, _) = app.state.keys.create(spec, &ctx).await.unwrap();
    app.state.keys.revoke(key.id, &ctx).await.unwrap();
}

#[tokio::test]
async fn every_critical_operation_is_audited_with_actor_and_request_id() {
    let app = spawn_app().await;
    do_everything(&app).await;
    let entries = app.audit_entries(&[("limit", "500")]).await;
    let find = |action: &str, request_id: &str| -> Value {
        entries
            .iter()
            .find(|e| e["action"] == action && e["request_id"] == request_id)
            .unwrap_or_else(|| panic!("no {action} entry for {request_id}: {entries:#?}"))
            .clone()
    };
    let operator = "front desk (key 2)";
    let admin = "PARKING_ADMIN_KEY (key 1)";
    for (action, request_id, actor, entity) in [
        ("vehicle.created", "r-create", operator, "vehicle"),
        ("vehicle.updated", "r-update", operator, "vehicle"),
        ("vehicle.deleted", "r-delete", operator, "vehicle"),
        ("config.retention_updated", "r-retention", admin, "config"),
        ("vehicles.purged", "r-purge", admin, "vehicles"),
        ("backup.created", "r-backup", admin, "backup"),
        ("vehicles.cleared", "r-clear", admin, "vehicles"),
    ] {
        let entry = find(action, request_id);
        assert_eq!(entry["actor"], actor, "{action}");
        assert_eq!(entry["entity"], entity, "{action}");
        let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "action",
                "actor",
                "details",
                "entity",
                "entity_id",
                "id",
                "request_id",
                "timestamp"
            ]
        );
    }
    assert_eq!(
        find("vehicle.updated", "r-update")["details"],
        json!({"changed": ["contact_name", "phone_number"]})
    );
    assert_eq!(find("vehicles.purged", "r-purge")["details"]["deleted"], 1);
    assert_eq!(
        find("vehicles.cleared", "r-clear")["details"],
        json!({"deleted": 1, "backup": null})
    );
    let created = entries
        .iter()
        .find(|e| e["action"] == "api_key.created" && e["details"]["name"] == "temp")
        .unwrap();
    assert_eq!(created["actor"], "command line");
    let revoked = entries
        .iter()
        .find(|e| e["action"] == "api_key.revoked")
        .unwrap();
    assert_eq!(revoked["entity_id"], created["entity_id"]);
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first");
}

#[tokio::test]
async fn the_audit_table_holds_no_personal_data() {
    let app = spawn_app().await;
    do_everything(&app).await;
    let rows = app
        .database
        .texts(
            "SELECT ts_ms || action || entity || coalesce(entity_id, '') || actor || \
             coalesce(request_id, '') || details FROM audit_logs",
        )
        .await;
    assert!(rows.len() >= 10);
    let everything = rows.join("\n").to_lowercase();
    // Tokens long enough never to turn up by chance in a timestamp, a ULID or a hex pseudonym.
    for personal in [
        "ab12cde",
        "ab-12 cde",
        "purge9",
        "clear1",
        "philippa",
        "quillfeather",
        "bartholomew",
        "wexley",
        "lovelace",
        "2079460111",
        "2079460222",
        "2079460958",
    ] {
        assert!(
            !everything.contains(personal),
            "{personal} found in the audit table"
        );
    }
}

#[tokio::test]
async fn a_plates_history_is_found_by_the_plate_itself() {
    let app = spawn_app().await;
    do_everything(&app).await;
    let history = app.audit_entries(&[("entity_id", "AB 12-CDE")]).await;
    let actions: Vec<&str> = history
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["vehicle.deleted", "vehicle.updated", "vehicle.created"]
    );
    let pseudonym = history[0]["entity_id"].as_str().unwrap();
    assert_eq!(pseudonym.len(), 32);
    assert!(pseudonym.chars().all(|c| c.is_ascii_hexdigit()));
    assert!(history.iter().all(|e| e["entity_id"] == pseudonym));
    assert_eq!(
        app.audit_entries(&[("entity_id", pseudonym)]).await,
        history,
        "the pseudonym works too"
    );
    assert!(
        app.audit_entries(&[("entity_id", "ZZ99ZZZ")])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn filters_and_cursor_walk_the_log() {
    let app = spawn_app().await;
    do_everything(&app).await;
    let all = app.audit_entries(&[("limit", "500")]).await;
    let mut walked = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "3".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let page: Value = app
            .admin(Method::GET, "/api/v1/audit")
            .query(&query)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        walked.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(walked, all);

    let created = app.audit_entries(&[("action", "vehicle.created")]).await;
    assert!(created.iter().all(|e| e["action"] == "vehicle.created") && created.len() >= 3);
    let middle = all[all.len() / 2]["timestamp"].as_str().unwrap().to_owned();
    let since = app
        .audit_entries(&[("since", &middle), ("limit", "500")])
        .await;
    let until = app
        .audit_entries(&[("until", &middle), ("limit", "500")])
        .await;
    assert_eq!(since.len() + until.len(), all.len());
    // Compared as times: the text of a whole second has no fraction (`…:05Z` is later than
    // `…:04.120Z` but sorts before `…:05.120Z`).
    let at = |text: &str| text.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(
        since
            .iter()
            .all(|e| at(e["timestamp"].as_str().unwrap()) >= at(&middle))
    );

    let problem = assert_problem(
        app.admin(Method::GET, "/api/v1/audit?action=vehicle.exploded")
            .send()
            .await
            .unwrap(),
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["action"]);
    let problem = assert_problem(
        app.admin(Method::GET, "/api/v1/audit?since=monday&cursor=zz")
            .send()
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(error_fields(&problem), ["since", "cursor"]);
    assert_problem(app.get("/api/v1/audit").send().await.unwrap(), 403).await;
}
