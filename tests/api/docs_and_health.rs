//! Health checks, the OpenAPI document, the offline docs page and request ids.

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn liveness_and_readiness_report_ok() {
    let app = spawn_app().await;
    let live = app.public_get("/health/live").await;
    assert_eq!(live.status(), 200);
    assert_eq!(live.headers()["content-type"], "application/json");
    assert_eq!(
        live.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"status": "ok"})
    );
    let ready = app.public_get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap(),
        serde_json::json!({"status": "ok", "checks": {"database": "ok", "backups": "ok"}})
    );
}

#[tokio::test]
async fn readiness_is_503_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.state.store.close().await;
    let ready = app.public_get("/health/ready").await;
    let problem = assert_problem(ready, 503).await;
    assert_eq!(problem["checks"]["database"], "unavailable");
    let live = app.public_get("/health/live").await;
    assert_eq!(
        live.status(),
        200,
        "liveness does not depend on the database"
    );
}

/// The served document is compared with the committed snapshot, so any contract change shows
/// up as a reviewed diff (`INSTA_UPDATE=always` rewrites it).
#[tokio::test]
async fn the_openapi_document_matches_the_snapshot() {
    let app = spawn_app().await;
    let response = app.public_get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let document: serde_json::Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    for path in [
        "/api/v1/vehicles",
        "/api/v1/vehicles/{plate}",
        "/health/live",
        "/health/ready",
    ] {
        assert!(document["paths"][path].is_object(), "{path} documented");
    }
    insta::assert_json_snapshot!("openapi", document, {".info.version" => "[version]"});
}

/// Every link in the document leads somewhere: its target operation exists and takes the
/// parameter it fills, and the response field it reads is in the answer's schema.
#[tokio::test]
async fn every_openapi_link_names_a_real_operation_parameter_and_field() {
    let app = spawn_app().await;
    let document = app.get_json("/api/v1/openapi.json").await;
    let operations: Vec<&serde_json::Value> = document["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .collect();
    let schemas = &document["components"]["schemas"];
    // The properties of a schema, through `$ref` and `allOf`.
    fn properties(schema: &serde_json::Value, schemas: &serde_json::Value) -> Vec<String> {
        if let Some(name) = schema["$ref"].as_str() {
            let name = name.trim_start_matches("#/components/schemas/");
            return properties(&schemas[name], schemas);
        }
        let mut found: Vec<String> = schema["properties"]
            .as_object()
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for part in schema["allOf"].as_array().into_iter().flatten() {
            found.extend(properties(part, schemas));
        }
        if let Some(items) = schema["properties"]["items"]["items"].as_object() {
            found.extend(
                properties(&serde_json::Value::Object(items.clone()), schemas)
                    .into_iter()
                    .map(|p| format!("items/0/{p}")),
            );
        }
        found
    }
    let mut links = 0;
    for operation in &operations {
        for (status, response) in operation["responses"].as_object().into_iter().flatten() {
            for (name, link) in response["links"].as_object().into_iter().flatten() {
                links += 1;
                let target = operations
                    .iter()
                    .find(|o| o["operationId"] == link["operationId"])
                    .unwrap_or_else(|| panic!("{name}: no operation {}", link["operationId"]));
                for (parameter, value) in link["parameters"].as_object().unwrap() {
                    assert!(
                        target["parameters"]
                            .as_array()
                            .unwrap()
                            .iter()
                            .any(|p| p["name"] == *parameter && p["in"] == "path"),
                        "{name}: {} takes no {parameter}",
                        link["operationId"]
                    );
                    let field = value
                        .as_str()
                        .unwrap()
                        .trim_start_matches("$response.body#/");
                    let schema = &response["content"]["application/json"]["schema"];
                    assert!(
                        properties(schema, schemas).iter().any(|p| p == field),
                        "{name} from {} {status}: the answer has no {field}",
                        operation["operationId"]
                    );
                }
            }
        }
    }
    assert_eq!(links, 14, "every link was checked");
}

#[tokio::test]
async fn the_docs_page_and_its_assets_are_served_without_the_internet() {
    let app = spawn_app().await;
    let page = app.public_get("/docs/").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("//cdn"));
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-ui-standalone-preset.js",
        "swagger-initializer.js",
    ] {
        assert!(
            html.contains(asset) || asset == "swagger-initializer.js",
            "{asset} referenced"
        );
        let response = app.public_get(&format!("/docs/{asset}")).await;
        assert_eq!(response.status(), 200, "{asset}");
        let body = response.text().await.unwrap();
        if asset == "swagger-initializer.js" {
            assert!(
                body.contains("/api/v1/openapi.json"),
                "the docs load our document"
            );
        }
    }
}

#[tokio::test]
async fn a_valid_client_request_id_is_kept_and_echoed() {
    let app = spawn_app().await;
    for id in ["abc-123_X.y", &"a".repeat(64)] {
        let response = app
            .get("/api/v1/vehicles")
            .header("X-Request-Id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], id);
    }
    let response = app
        .get("/api/v1/vehicles/NONE1")
        .header("X-Request-Id", "trace-404")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-404");
    let problem = assert_problem(response, 404).await;
    assert_eq!(problem["request_id"], "trace-404");
}

#[tokio::test]
async fn an_unacceptable_request_id_is_replaced() {
    let app = spawn_app().await;
    for id in ["", "has space", "semi;colon", "x/y", &"a".repeat(65)] {
        let response = app
            .get("/api/v1/vehicles")
            .header("X-Request-Id", id)
            .send()
            .await
            .unwrap();
        let echoed = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_ne!(echoed, id);
        assert_eq!(echoed.len(), 26, "a generated ULID");
    }
    let without = app.public_get("/health/live").await;
    let a = without.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let again = app.public_get("/health/live").await;
    assert_ne!(
        again.headers()["x-request-id"].to_str().unwrap(),
        a,
        "ids are unique"
    );
}
