//! The operator page as files: served from the binary with a strict policy, nothing from
//! another origin, no inline script or style, cached by ETag.

use crate::helpers::{assert_problem, spawn_app};

/// The page's files as committed, for checks that look at every one of them.
fn web_files() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
    let mut files = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let name = path.strip_prefix(&root).unwrap().display().to_string();
                files.push((name, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    files
}

#[tokio::test]
async fn the_page_is_served_at_the_root_with_a_strict_policy() {
    let app = spawn_app().await;
    let page = app.public_get("/").await;
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert!(
        headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{directive} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>Parking</title>"));
}

#[tokio::test]
async fn every_asset_the_page_names_is_served_with_its_type_and_revalidated_by_etag() {
    let app = spawn_app().await;
    for (path, content_type) in [
        ("/assets/app.css", "text/css"),
        ("/assets/js/main.js", "javascript"),
        ("/assets/js/live.js", "javascript"),
        ("/assets/icon.svg", "image/svg+xml"),
    ] {
        let response = app.public_get(path).await;
        assert_eq!(response.status(), 200, "{path}");
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains(content_type),
            "{path}"
        );
        let etag = response.headers()["etag"].to_str().unwrap().to_owned();
        let again = app
            .client
            .get(app.url(path))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
    }
    // Every module a module imports, and every file index.html names, exists.
    for (name, text) in web_files() {
        for quoted in text
            .split(['"', '\''])
            .filter(|s| s.starts_with("/assets/") || s.starts_with("./"))
        {
            let path = if let Some(relative) = quoted.strip_prefix("./") {
                let dir = std::path::Path::new(&name)
                    .parent()
                    .unwrap()
                    .display()
                    .to_string();
                format!("/assets/{dir}/{relative}")
            } else {
                quoted.to_owned()
            };
            assert_eq!(
                app.public_get(&path).await.status(),
                200,
                "{name} names {quoted}"
            );
        }
    }
    assert_problem(app.public_get("/assets/nothing.js").await, 404).await;
    assert_problem(app.public_get("/assets/index.html").await, 404).await;
    let posted = app.client.post(app.url("/")).send().await.unwrap();
    assert_problem(posted, 405).await;
}

#[tokio::test]
async fn no_file_of_the_page_loads_anything_from_elsewhere_or_runs_inline() {
    let files = web_files();
    assert!(
        files.len() >= 10,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, text) in &files {
        for needle in ["http://", "https://", "//cdn", "@import url("] {
            let hits: Vec<&str> = text
                .lines()
                .filter(|line| line.contains(needle) && !line.contains("www.w3.org/2000/svg"))
                .collect();
            assert!(hits.is_empty(), "{name} refers elsewhere: {hits:?}");
        }
        assert!(
            !text.contains("innerHTML") && !text.contains("eval("),
            "{name} builds code or markup from text"
        );
        if name.ends_with(".html") {
            assert!(!text.contains("style="), "{name} has an inline style");
            assert!(!text.contains("<style"), "{name} has a style element");
            for script in text.split("<script").skip(1) {
                assert!(
                    script.split('>').next().unwrap().contains("src="),
                    "{name} has an inline script"
                );
            }
            assert!(
                !text.contains(" on") || !text.contains("onclick="),
                "{name} has an inline handler"
            );
        }
    }
}
