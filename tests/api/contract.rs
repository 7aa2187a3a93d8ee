//! `docs/API.md` and the served OpenAPI document name the same routes: every route the
//! contract lists outside its planned parts is served and documented, nothing else is, and
//! nothing planned is served yet.

use std::collections::BTreeSet;

use crate::helpers::spawn_app;

/// Routes the contract names that are not API operations of the OpenAPI document itself.
const OUTSIDE_THE_DOCUMENT: [&str; 4] = [
    "GET /",
    "GET /metrics",
    "GET /docs",
    "GET /api/v1/openapi.json",
];

/// `(built, planned)` routes written as `METHOD /path` in backticks; a heading or a table row
/// that says "(planned)" marks what it holds as planned.
fn contract_routes() -> (BTreeSet<String>, BTreeSet<String>) {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md")).unwrap();
    let (mut built, mut planned) = (BTreeSet::new(), BTreeSet::new());
    let mut section_planned = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            section_planned = line.contains("(planned)");
        }
        let line_planned = section_planned || (line.starts_with('|') && line.contains("(planned"));
        for (i, quoted) in line.split('`').enumerate() {
            if i % 2 == 0 {
                continue;
            }
            let Some((methods, path)) = quoted.split_once(' ') else {
                continue;
            };
            let methods: Vec<&str> = methods.split("\\|").collect();
            if !path.starts_with('/')
                || !methods
                    .iter()
                    .all(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_uppercase()))
            {
                continue;
            }
            let path = path.split(['?', ' ']).next().unwrap();
            for method in methods {
                let route = format!("{method} {path}");
                if line_planned {
                    &mut planned
                } else {
                    &mut built
                }
                .insert(route);
            }
        }
    }
    (built, planned)
}

#[tokio::test]
async fn the_contract_and_the_openapi_document_list_the_same_routes() {
    let app = spawn_app().await;
    let document: serde_json::Value = app
        .public_get("/api/v1/openapi.json")
        .await
        .json()
        .await
        .unwrap();
    let served: BTreeSet<String> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, operations)| {
            operations
                .as_object()
                .unwrap()
                .keys()
                .map(move |method| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let (built, planned) = contract_routes();
    assert!(built.len() >= 20, "{built:?}");
    let documented: BTreeSet<String> = built
        .iter()
        .filter(|route| !OUTSIDE_THE_DOCUMENT.contains(&route.as_str()))
        .cloned()
        .collect();
    assert_eq!(
        documented.difference(&served).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "in docs/API.md but not served"
    );
    assert_eq!(
        served.difference(&documented).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "served but not in docs/API.md"
    );
    assert_eq!(
        planned.intersection(&served).collect::<Vec<_>>(),
        Vec::<&String>::new(),
        "served but still marked planned in docs/API.md"
    );
    for route in OUTSIDE_THE_DOCUMENT {
        assert!(built.contains(route), "{route} is not in docs/API.md");
        let path = route.trim_start_matches("GET ");
        assert_eq!(app.public_get(path).await.status(), 200, "{route}");
    }
}

#[tokio::test]
async fn the_repository_stands_alone() {
    let root = env!("CARGO_MANIFEST_DIR");
    for file in ["README.md", "docs/API.md", "bench/README.md"] {
        let text = std::fs::read_to_string(format!("{root}/{file}")).unwrap();
        assert!(
            !text.contains("../shared"),
            "{file} points outside the repository"
        );
    }
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    assert!(
        readme.contains("(docs/API.md)"),
        "the README links the contract"
    );
    let headings: Vec<&str> = readme.lines().filter(|l| l.starts_with("## ")).collect();
    let unique: BTreeSet<&&str> = headings.iter().collect();
    assert_eq!(
        unique.len(),
        headings.len(),
        "a README section appears twice: {headings:?}"
    );
}
