//! The flows of a gate and a desk: sign in, find, register, list, leave.

use serde_json::json;

use super::{Browser, DESKTOP, PHONE};
use crate::helpers::{spawn_app, vehicle};

/// A newcomer pastes the admin key and reaches every section; each is captured at both sizes.
#[tokio::test]
async fn a_newcomer_signs_in_with_the_admin_key_and_reaches_every_section() {
    let app = spawn_app().await;
    for (plate, name) in [
        ("AB12CDE", "Ada Lovelace"),
        ("A8I2XYZ", "Bob Builder"),
        ("ZZ99ZZZ", "Zed Zebra"),
    ] {
        app.register_ok(&json!({"number_plate": plate, "contact_name": name, "phone_number": "+44 20 7946 0958"}))
            .await;
    }
    for size in [PHONE, DESKTOP] {
        let browser = Browser::open(size).await;
        browser.goto(&app, "/").await;
        browser.wait_visible("#sign-in-key").await;
        assert_eq!(
            browser.js("return document.activeElement.id;").await,
            "sign-in-key",
            "the key field has focus"
        );
        browser.screenshot("sign-in").await;
        browser.fill("#sign-in-key", "pk_not_a_key").await;
        browser.click("#sign-in-form button[type=submit]").await;
        browser.wait_text("#sign-in-error", "not accepted").await;

        browser.sign_in(&app, &app.admin_key).await;
        assert_eq!(browser.text("#who-role").await, "admin");
        assert_eq!(
            browser.js("return document.activeElement.id;").await,
            "q",
            "search has focus"
        );
        // Styles and scripts of our own are applied under the strict policy.
        assert_eq!(
            browser
                .js("return getComputedStyle(document.querySelector('.bar')).backgroundColor;")
                .await,
            "rgb(11, 79, 156)"
        );
        browser.search("ab12").await;
        let plates = browser.result_plates().await;
        assert_eq!(plates, ["AB12CDE", "A8I2XYZ"], "exact before look-alike");
        let marked = browser
            .js("return [...document.querySelectorAll('#results .result')].map(b => !!b.querySelector('.lookalike'));")
            .await;
        assert_eq!(
            marked,
            json!([false, true]),
            "only the look-alike match is marked"
        );
        browser.wait_text("#find-summary", "2 vehicles match").await;
        browser.screenshot("find").await;
        browser.assert_fits_width("find").await;

        browser
            .click("#results .result[data-plate='AB12CDE']")
            .await;
        browser.wait_visible("#vehicle-dialog").await;
        assert_eq!(browser.text("#vehicle-name").await, "Ada Lovelace");
        let tel = browser
            .find("#vehicle-phone")
            .await
            .attr("href")
            .await
            .unwrap();
        assert_eq!(tel.as_deref(), Some("tel:+442079460958"));
        browser.screenshot("vehicle").await;
        browser
            .client
            .active_element()
            .await
            .unwrap()
            .send_keys("\u{e00c}")
            .await
            .unwrap(); // Esc
        browser
            .wait_for_js("return !document.querySelector('#vehicle-dialog').open;")
            .await;

        for view in ["register", "list", "admin"] {
            browser.click(&format!("#nav a[data-view='{view}']")).await;
            browser.wait_visible(&format!("#view-{view}")).await;
            if view == "list" {
                browser
                    .wait_for_js(
                        "return document.querySelectorAll('#list-table tbody tr').length === 3;",
                    )
                    .await;
            }
            if view == "admin" {
                browser.wait_text("#health-status", "Ready").await;
                browser.wait_text("#retention-current", "24 hours").await;
                browser
                    .wait_for_js(
                        "return document.querySelectorAll('#keys-table tbody tr').length >= 2;",
                    )
                    .await;
                browser
                    .wait_for_js(
                        "return document.querySelectorAll('#audit-table tbody tr').length >= 3;",
                    )
                    .await;
            }
            browser.screenshot(view).await;
            browser.assert_fits_width(view).await;
        }
        // `/` jumps back to the search box from anywhere but a text field.
        browser
            .js("document.activeElement.blur(); return true;")
            .await;
        browser
            .client
            .active_element()
            .await
            .unwrap()
            .send_keys("/")
            .await
            .unwrap();
        browser
            .wait_for_js("return document.activeElement.id === 'q';")
            .await;

        let urls = browser.fetched_urls().await;
        assert!(urls.len() >= 8, "{urls:?}");
        for url in &urls {
            let origin = app.address.replacen("http", "ws", 1);
            assert!(
                url.starts_with(&app.address) || url.starts_with(&origin),
                "a request left the service: {url}"
            );
        }
        browser.close().await;
    }
}

#[tokio::test]
async fn an_operator_key_sees_no_admin_section() {
    let app = spawn_app().await;
    let browser = Browser::open(PHONE).await;
    browser.sign_in(&app, &app.operator_key).await;
    assert_eq!(browser.text("#who-role").await, "operator");
    assert_eq!(
        browser
            .js("return document.querySelector('#nav a[data-view=admin]').hidden;")
            .await,
        true
    );
    browser.goto(&app, "/#admin").await;
    browser.wait_visible("#view-find").await;
    assert_eq!(
        browser
            .js("return document.querySelector('#view-admin').hidden;")
            .await,
        true,
        "an operator cannot open the admin section by its address"
    );
    browser.screenshot("operator").await;
    browser.close().await;
}

#[tokio::test]
async fn a_vehicle_registered_in_one_tab_appears_live_in_another_and_leaving_removes_it_there() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("LIV001")).await;
    let gate = Browser::open(PHONE).await;
    let desk = Browser::open(DESKTOP).await;
    gate.sign_in(&app, &app.operator_key).await;
    desk.sign_in(&app, &app.operator_key).await;
    desk.search("liv").await;
    assert_eq!(desk.result_plates().await, ["LIV001"]);

    gate.click("#nav a[data-view='register']").await;
    gate.fill("#reg-number_plate", "liv-777").await;
    gate.fill("#reg-contact_name", "Grace Hopper").await;
    gate.fill("#reg-phone_number", "020 7946 0123").await;
    gate.find("#reg-phone_number")
        .await
        .send_keys("\n")
        .await
        .unwrap(); // Enter submits
    gate.wait_text("#register-message", "Registered LIV777")
        .await;
    assert_eq!(
        gate.js(
            "return [document.activeElement.id, document.querySelector('#reg-number_plate').value];"
        )
        .await,
        json!(["reg-number_plate", ""]),
        "the form is cleared and ready for the next car"
    );
    gate.screenshot("registered").await;

    desk.wait_for_js("return !!document.querySelector(\"#results .result[data-plate='LIV777']\");")
        .await;
    desk.wait_text("#find-summary", "2 vehicles match").await;
    desk.screenshot("added-live").await;

    // The gate finds it and records that it left.
    gate.click("#nav a[data-view='find']").await;
    gate.search("LIV777").await;
    gate.click("#results .result[data-plate='LIV777']").await;
    gate.wait_visible("#vehicle-dialog").await;
    gate.click("#vehicle-left").await;
    gate.wait_visible("#vehicle-confirm-left").await;
    gate.screenshot("confirm-left").await;
    gate.click("#vehicle-confirm-left").await;
    gate.wait_for_js("return !document.querySelector('#vehicle-dialog').open;")
        .await;

    desk.wait_for_js("return !document.querySelector(\"#results .result[data-plate='LIV777']\");")
        .await;
    assert_eq!(desk.result_plates().await, ["LIV001"]);
    assert_eq!(app.get_vehicle("LIV777").await.status(), 404);
    gate.close().await;
    desk.close().await;
}

#[tokio::test]
async fn a_422_lands_on_its_field_and_a_409_links_to_the_parked_vehicle() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("TAKEN1")).await;
    let browser = Browser::open(DESKTOP).await;
    browser.sign_in(&app, &app.operator_key).await;
    browser.click("#nav a[data-view='register']").await;
    browser.fill("#reg-number_plate", "GOOD1").await;
    browser.fill("#reg-contact_name", "Alan Turing").await;
    browser.fill("#reg-phone_number", "0800 FLOWERS").await;
    browser.click("#register-form button[type=submit]").await;
    browser.wait_text("#err-phone_number", "digits").await;
    let marks = browser
        .js("return ['number_plate', 'contact_name', 'phone_number'].map(f => [document.querySelector('#reg-' + f).getAttribute('aria-invalid'), document.querySelector('#err-' + f).textContent]);")
        .await;
    assert_eq!(marks[0], json!([null, ""]));
    assert_eq!(marks[1], json!([null, ""]));
    assert_eq!(marks[2][0], "true");
    assert_eq!(
        browser.js("return document.activeElement.id;").await,
        "reg-phone_number"
    );
    browser.screenshot("field-error").await;
    assert_eq!(
        app.get_vehicle("GOOD1").await.status(),
        404,
        "nothing was stored"
    );

    browser.fill("#reg-number_plate", "taken 1").await;
    browser.fill("#reg-phone_number", "+44 20 7946 0958").await;
    browser.click("#register-form button[type=submit]").await;
    browser
        .wait_text("#register-message", "already parked")
        .await;
    browser.screenshot("conflict").await;
    browser.click("#register-message button").await;
    browser.wait_visible("#vehicle-dialog").await;
    assert_eq!(browser.text("#vehicle-plate").await, "TAKEN1");
    browser.close().await;
}
