//! Running the car park in the page: the occupancy gauge and chart, the look-alike warning at
//! the gate, watchlist alerts, and the export.

use chrono::{TimeDelta, Utc};
use reqwest::Method;
use serde_json::json;

use super::{Browser, DESKTOP, PHONE};
use crate::helpers::{TestApp, rfc3339, spawn_app, vehicle};

/// A day of traffic: vehicles that entered over the last 20 hours, some of which have left.
async fn seed_a_day(app: &TestApp) {
    for i in 0..24_i64 {
        let mut body = vehicle(&format!("DAY{i}"));
        body["entry_timestamp"] = json!(rfc3339(Utc::now() - TimeDelta::minutes(50 * i + 5)));
        app.register_ok(&body).await;
    }
    for i in [3, 7, 11] {
        assert_eq!(app.delete_vehicle(&format!("DAY{i}")).await.status(), 204);
    }
}

#[tokio::test]
async fn the_occupancy_view_shows_a_gauge_and_a_chart_that_follow_the_car_park() {
    let app = spawn_app().await;
    seed_a_day(&app).await;
    let browser = Browser::open(DESKTOP).await;
    browser.sign_in(&app, &app.admin_key).await;

    // The capacity is set on the admin page.
    browser.click("#nav a[data-view='admin']").await;
    browser.wait_visible("#view-admin").await;
    browser.fill("#capacity-places", "30").await;
    browser.click("#capacity-form button[type=submit]").await;
    browser.wait_text("#toast", "Capacity set to 30").await;

    browser.click("#nav a[data-view='occupancy']").await;
    browser.wait_visible("#view-occupancy").await;
    browser
        .wait_text("#gauge-text", "21 of 30 places taken (70%)")
        .await;
    browser
        .wait_for_js(
            "return document.querySelector('#chart .parked-area') !== null \
             && document.querySelectorAll('#chart .entries-bar').length >= 10 \
             && document.querySelectorAll('#chart .exits-bar').length === 1 \
             && document.querySelectorAll('#occupancy-table tbody tr').length === 24;",
        )
        .await;
    assert!(
        browser
            .text("#chart-summary")
            .await
            .contains("24 entries, 3 exits"),
        "{}",
        browser.text("#chart-summary").await
    );
    browser.screenshot("occupancy").await;
    browser.assert_fits_width("occupancy").await;

    // A registration elsewhere moves the gauge through the live search's occupancy frame.
    app.register_ok(&vehicle("LIVE1")).await;
    browser
        .wait_text("#gauge-text", "22 of 30 places taken")
        .await;
    browser.resize(PHONE).await;
    browser.screenshot("occupancy-phone").await;
    browser.assert_fits_width("occupancy").await;
    browser.close().await;
}

#[tokio::test]
async fn a_misread_plate_is_flagged_beside_the_plate_field() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("AB12CDE")).await;
    let browser = Browser::open(PHONE).await;
    browser.sign_in(&app, &app.operator_key).await;
    browser.click("#nav a[data-view='register']").await;
    browser.fill("#reg-number_plate", "A8 12 CDE").await;
    browser.fill("#reg-contact_name", "Alan Turing").await;
    browser.fill("#reg-phone_number", "+44 20 7946 0958").await;
    browser.click("#register-form button[type=submit]").await;
    browser
        .wait_text("#similar-warning", "looks like a plate already parked")
        .await;
    let warning = browser.text("#similar-warning").await;
    assert!(
        warning.contains("A812CDE") && warning.contains("AB12CDE"),
        "{warning}"
    );
    assert_eq!(
        browser.js("return document.activeElement.id;").await,
        "reg-number_plate",
        "the form is ready for the next car"
    );
    browser.screenshot("similar-plates").await;
    browser.assert_fits_width("register").await;
    // Each plate in the warning opens its vehicle.
    browser
        .click("#similar-warning button[class~='plate']:last-of-type")
        .await;
    browser.wait_visible("#vehicle-dialog").await;
    assert_eq!(browser.text("#vehicle-plate").await, "AB12CDE");
    browser.close().await;
}

#[tokio::test]
async fn a_watched_plate_arriving_is_an_alert_on_every_open_page() {
    let app = spawn_app().await;
    let admin = Browser::open(DESKTOP).await;
    admin.sign_in(&app, &app.admin_key).await;
    admin.click("#nav a[data-view='admin']").await;
    admin.wait_visible("#view-admin").await;
    admin.fill("#watch-plate", "wat 123").await;
    admin
        .fill("#watch-note", "Reported stolen: call the police desk")
        .await;
    admin.click("#watch-form button[type=submit]").await;
    admin.wait_text("#watch-message", "WAT123 is watched").await;
    admin
        .wait_for_js(
            "return document.querySelector('#watch-table tbody tr[data-plate=WAT123]') !== null;",
        )
        .await;

    let gate = Browser::open(PHONE).await;
    gate.sign_in(&app, &app.operator_key).await;
    gate.wait_text("#live-status", "live").await;
    // A look-alike of the watched plate, registered through the API by a third party.
    app.register_ok(&vehicle("WAT1Z3")).await;
    for page in [&admin, &gate] {
        page.wait_text("#alerts .alert", "WAT1Z3").await;
        assert!(
            page.text("#alerts .alert")
                .await
                .contains("Reported stolen")
        );
    }
    gate.screenshot("alert").await;
    gate.assert_fits_width("alert").await;
    gate.click("#alerts .alert button.quiet").await;
    gate.wait_for_js("return document.querySelectorAll('#alerts .alert').length === 0;")
        .await;

    // The export is offered to admins, and audited.
    admin.click("#export-csv").await;
    admin.wait_text("#maintenance-message", "Exported").await;
    let exported = app.audit_entries(&[("action", "vehicles.exported")]).await;
    assert_eq!(exported.len(), 1);
    assert_eq!(exported[0]["details"], json!({"personal": false}));
    let unwatched = app
        .admin(Method::DELETE, "/api/v1/watchlist/WAT123")
        .send()
        .await
        .unwrap();
    assert_eq!(unwatched.status(), 204);
    admin.close().await;
    gate.close().await;
}
