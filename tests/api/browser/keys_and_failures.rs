//! Keys managed from the page, and failures shown as messages, never a blank page.

use std::time::Duration;

use reqwest::Method;

use super::{Browser, DESKTOP, PHONE};
use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn a_key_created_on_the_page_is_shown_once_and_works() {
    let app = spawn_app().await;
    let browser = Browser::open(DESKTOP).await;
    browser.sign_in(&app, &app.admin_key).await;
    browser.click("#nav a[data-view='admin']").await;
    browser.wait_visible("#key-form").await;
    browser.fill("#key-name", "gate 3 tablet").await;
    browser.click("#key-form button[type=submit]").await;
    browser.wait_visible("#key-dialog").await;
    let secret = browser.text("#key-secret").await;
    assert!(secret.starts_with("pk_"), "{secret}");
    browser.click("#key-copy").await;
    browser.wait_text("#key-copied", "Cop").await;
    browser.screenshot("key-created").await;
    browser.click("#key-dialog button[value=close]").await;
    browser
        .wait_for_js("return !document.querySelector('#key-dialog').open;")
        .await;
    // The dialog's `close` event, which wipes the secret, is dispatched as a task of its own
    // after the dialog closes: wait for it (a page that kept the secret times out here).
    browser
        .wait_for_js(&format!(
            "return !document.documentElement.outerHTML.includes({});",
            serde_json::to_string(&secret).unwrap()
        ))
        .await;
    browser
        .wait_for_js("return [...document.querySelectorAll('#keys-table td')].some(td => td.textContent === 'gate 3 tablet');")
        .await;
    assert_eq!(
        app.list_with_key(&secret).await.status(),
        200,
        "the key works"
    );

    // Revoked from the page: the row says so and the key stops working.
    let id = app.admin_json(Method::GET, "/api/v1/keys").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "gate 3 tablet")
        .unwrap()["id"]
        .clone();
    let button = format!("#keys-table tr[data-key-id='{id}'] button");
    browser.click(&button).await;
    browser.wait_text(&button, "Confirm").await;
    browser.click(&button).await;
    browser.wait_text("#keys-message", "revoked").await;
    assert_eq!(app.list_with_key(&secret).await.status(), 401);
    browser.close().await;
}

#[tokio::test]
async fn a_revoked_key_brings_the_sign_in_prompt_back() {
    let app = spawn_app().await;
    let created = app
        .admin(Method::POST, "/api/v1/keys")
        .json(&serde_json::json!({"name": "kiosk", "role": "operator"}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let browser = Browser::open(PHONE).await;
    browser
        .sign_in(&app, created["key"].as_str().unwrap())
        .await;
    let revoked = app
        .admin(Method::DELETE, &format!("/api/v1/keys/{}", created["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    // The live search is closed with 1008; the page asks for a key again.
    browser.wait_visible("#view-sign-in").await;
    browser.wait_text("#sign-in-error", "revoked").await;
    assert_eq!(
        browser
            .js("return sessionStorage.getItem('parking.key');")
            .await,
        serde_json::Value::Null,
        "the key is forgotten"
    );
    browser.screenshot("revoked").await;
    browser.close().await;
}

#[tokio::test]
async fn overload_and_a_lost_service_are_messages_and_the_live_search_comes_back() {
    let app = spawn_app_with(|s| {
        s.rate_limit = Some(parking::config::RateLimit {
            per_sec: 1,
            burst: 8,
        })
    })
    .await;
    let browser = Browser::open(DESKTOP).await;
    browser.sign_in(&app, &app.operator_key).await;
    browser.click("#nav a[data-view='list']").await;
    // Clicks until the budget is spent; a later success would clear the banner, so it is
    // looked at after each one.
    let mut refused = false;
    for _ in 0..40 {
        browser.click("#list-form button[type=submit]").await;
        let banner = browser
            .js("return document.querySelector('#banner-text').textContent;")
            .await;
        if banner
            .as_str()
            .is_some_and(|b| b.contains("Too many requests"))
        {
            assert!(banner.as_str().unwrap().contains("seconds"), "{banner}");
            refused = true;
            break;
        }
    }
    assert!(refused, "no 429 banner after 40 requests");
    browser.screenshot("rate-limited").await;

    // The live search survives a dropped connection: it reconnects and re-sends the search.
    tokio::time::sleep(Duration::from_secs(3)).await;
    browser.click("#nav a[data-view='find']").await;
    browser.search("ZZ").await;
    app.stop();
    browser
        .wait_for_js(
            "return document.querySelector('#live-status').dataset.state === 'reconnecting';",
        )
        .await;
    browser.click("#nav a[data-view='list']").await;
    browser.click("#list-form button[type=submit]").await;
    browser.wait_text("#banner-text", "cannot be reached").await;
    browser.screenshot("service-down").await;

    // The service comes back on the same address and database: the page reconnects on its
    // own, searches again, and shows what changed meanwhile.
    let _restarted = restart(&app).await;
    app.register_ok(&crate::helpers::vehicle("ZZ0001")).await;
    browser.click("#nav a[data-view='find']").await;
    browser
        .wait_for_js("return document.querySelector('#live-status').dataset.state === 'live';")
        .await;
    browser
        .wait_for_js("return !!document.querySelector(\"#results .result[data-plate='ZZ0001']\");")
        .await;
    browser.close().await;
}

/// Starts the service again on `app`'s address and database once the first has let go of them.
async fn restart(app: &crate::helpers::TestApp) -> tokio::task::JoinHandle<anyhow::Result<()>> {
    use parking::{
        app::App,
        config::{Overrides, Settings},
        domain::ApiKeySecret,
    };
    let mut settings = Settings::from_defaults(&Overrides {
        bind: Some(app.address.trim_start_matches("http://").to_owned()),
        database: Some(format!("sqlite://{}", app.db_path.display())),
    })
    .unwrap();
    settings.admin_key = Some(ApiKeySecret::from_presented(crate::helpers::ADMIN_KEY));
    settings.backup_dir = app.backup_dir.clone();
    settings.rate_limit = None;
    for _ in 0..100 {
        if let Ok(again) = App::build(&settings).await {
            let again = again.without_background_jobs();
            return tokio::spawn(again.run_until_stopped(std::future::pending()));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the service could not start again on its address");
}
