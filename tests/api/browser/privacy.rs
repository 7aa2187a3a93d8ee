//! The privacy officer's tools on the page: masked numbers and an audited reveal for viewers,
//! holds on a vehicle, the purge preview, and subject access and erasure with a confirm step.

use chrono::{Local, TimeDelta};
use parking::domain::Role;
use serde_json::json;

use super::{Browser, DESKTOP, PHONE};
use crate::helpers::{TestApp, create_key, minutes_ago, rfc3339, spawn_app, vehicle};

const MASKED: &str = "+44\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}958";

/// Sets a `datetime-local` input the way a person's picker does (the browser's local time).
async fn set_local_time(browser: &Browser, css: &str, at: chrono::DateTime<Local>) {
    let value = at.format("%Y-%m-%dT%H:%M:%S").to_string();
    browser
        .js(&format!(
            "const e = document.querySelector({css:?}); e.value = {value:?}; return e.value;"
        ))
        .await;
}

async fn register_past(app: &TestApp, plate: &str, minutes: i64, phone: &str) {
    let mut body = vehicle(plate);
    body["entry_timestamp"] = json!(rfc3339(minutes_ago(minutes)));
    body["phone_number"] = json!(phone);
    app.register_ok(&body).await;
}

#[tokio::test]
async fn a_viewer_sees_masked_numbers_cannot_register_and_reveals_one_with_a_reason() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("VIEWP1")).await;
    let (_, key) = create_key(&app.state, "lobby screen", Role::Viewer).await;
    let browser = Browser::open(PHONE).await;
    browser.sign_in(&app, key.expose()).await;
    assert_eq!(browser.text("#who-role").await, "viewer");
    assert_eq!(
        browser
            .js("return [document.querySelector('#nav a[data-view=register]').hidden, document.querySelector('#nav a[data-view=admin]').hidden];")
            .await,
        json!([true, true])
    );
    browser.search("VIEWP1").await;
    assert_eq!(
        browser
            .js("return document.querySelector('#results .result .phone').textContent;")
            .await,
        json!(MASKED)
    );
    browser.click("#results .result[data-plate='VIEWP1']").await;
    browser.wait_visible("#reveal-box").await;
    assert_eq!(browser.text("#vehicle-phone").await, MASKED);
    assert_eq!(
        browser
            .js("return [document.querySelector('#vehicle-phone').hasAttribute('href'), document.querySelector('#vehicle-left').hidden, document.querySelector('#hold-box').hidden];")
            .await,
        json!([false, true, true]),
        "no call link, no 'left', no hold for a viewer"
    );
    browser.screenshot("viewer-masked").await;

    browser.click("#reveal-submit").await;
    browser.wait_text("#err-reveal-reason", "1 to 500").await;
    browser.fill("#reveal-reason", "Ada Lovelace asked").await;
    browser.click("#reveal-submit").await;
    browser.wait_text("#err-reveal-reason", "personal").await;
    browser.fill("#reveal-reason", "blocks the fire exit").await;
    browser.click("#reveal-submit").await;
    browser.wait_text("#vehicle-phone", "+442079460958").await;
    assert_eq!(
        browser
            .js("return document.querySelector('#vehicle-phone').getAttribute('href');")
            .await,
        json!("tel:+442079460958")
    );
    browser.assert_fits_width("viewer dialog").await;
    browser.screenshot("viewer-revealed").await;
    let revealed = app
        .audit_entries(&[("action", "vehicle.phone_revealed")])
        .await;
    assert_eq!(revealed.len(), 1);
    assert_eq!(revealed[0]["details"]["reason"], "blocks the fire exit");
    browser.close().await;
}

#[tokio::test]
async fn an_admin_holds_and_lifts_a_vehicle_and_sees_the_purge_preview() {
    let app = spawn_app().await;
    app.set_retention_hours(2).await;
    register_past(&app, "HOLDP1", 90, "+44 20 7946 0958").await;
    register_past(&app, "PREV01", 100, "+44 20 7946 0959").await;
    let browser = Browser::open(DESKTOP).await;
    browser.sign_in(&app, &app.admin_key).await;

    browser.search("HOLDP1").await;
    browser.click("#results .result[data-plate='HOLDP1']").await;
    browser.wait_visible("#hold-box").await;
    browser.click("#hold-submit").await;
    browser.wait_text("#err-hold-reason", "1 to 500").await;
    browser.fill("#hold-reason", "police request 114").await;
    set_local_time(&browser, "#hold-until", Local::now() + TimeDelta::days(3)).await;
    browser.click("#hold-submit").await;
    browser
        .wait_text("#vehicle-hold", "police request 114")
        .await;
    browser.wait_visible("#hold-lift").await;
    browser.screenshot("held").await;
    let held: serde_json::Value = app.get_vehicle("HOLDP1").await.json().await.unwrap();
    assert_eq!(held["hold"]["reason"], "police request 114");

    // The preview counts the unheld one (its retention ends within the hour), not the held one.
    browser.click("#vehicle-dialog button[value=close]").await;
    browser.goto(&app, "/#admin").await;
    browser
        .wait_text("#preview-summary", "1 vehicle will be deleted")
        .await;
    assert_eq!(
        browser
            .js("return document.querySelectorAll('#preview-chart .purge-bar').length;")
            .await,
        json!(1)
    );
    browser
        .js("document.querySelector('#preview-title').scrollIntoView(); return true;")
        .await;
    browser.screenshot("purge-preview").await;

    browser.goto(&app, "/#find").await;
    browser.search("HOLDP1").await;
    browser.click("#results .result[data-plate='HOLDP1']").await;
    browser.wait_visible("#hold-lift").await;
    browser.click("#hold-lift").await;
    browser
        .wait_for_js("return document.querySelector('#vehicle-hold').hidden && document.querySelector('#hold-lift').hidden;")
        .await;
    let lifted: serde_json::Value = app.get_vehicle("HOLDP1").await.json().await.unwrap();
    assert!(lifted.get("hold").is_none());
    browser.close().await;
}

#[tokio::test]
async fn an_admin_finds_a_persons_records_and_erases_them_after_confirming() {
    let app = spawn_app().await;
    register_past(&app, "ERAP1", 10, "+44 20 7946 0444").await;
    register_past(&app, "ERAP2", 20, "020 7946 0444").await;
    app.register_ok(&vehicle("KEEPP1")).await;
    app.admin_json(reqwest::Method::POST, "/api/v1/maintenance/backup")
        .await;
    let browser = Browser::open(PHONE).await;
    browser.sign_in(&app, &app.admin_key).await;
    browser.goto(&app, "/#admin").await;
    browser.fill("#subject-phone", "(020) 7946-0444").await;
    browser.click("#subject-form button[type=submit]").await;
    browser
        .wait_text("#subject-summary", "2 vehicle records")
        .await;
    browser.wait_text("#subject-backups", "2 vehicle(s)").await;
    assert_eq!(
        browser
            .js("return document.querySelector('#erase-submit').disabled;")
            .await,
        json!(true),
        "erasing needs the confirmation ticked"
    );
    browser.assert_fits_width("subject access").await;
    browser.screenshot("subject-access").await;
    browser.click("#erase-confirm").await;
    browser.click("#erase-submit").await;
    browser
        .wait_text("#subject-message", "Erased 2 vehicle record(s)")
        .await;
    browser
        .wait_text("#subject-message", "1 backup(s) still hold them")
        .await;
    for plate in ["ERAP1", "ERAP2"] {
        assert_eq!(app.get_vehicle(plate).await.status(), 404);
    }
    assert_eq!(app.get_vehicle("KEEPP1").await.status(), 200);
    browser.close().await;
}
