//! The listener's limits: header deadline, connections per address, oversized headers.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, body::Body, routing::get};
use futures_util::stream;
use parking::http::server::{ConnectionLimits, serve};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpSocket, TcpStream},
    time::Instant,
};

use crate::helpers::{TestApp, assert_problem, spawn_app, spawn_app_with};

fn server_addr(app: &TestApp) -> SocketAddr {
    app.address.trim_start_matches("http://").parse().unwrap()
}

/// Connects from a chosen loopback address (127.0.0.0/8 is all ours).
async fn connect_from(app: &TestApp, from: [u8; 4]) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(server_addr(app)).await.unwrap()
}

/// Whether the server has closed `stream` within `within` (EOF or reset on read).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

async fn health_over(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

#[tokio::test]
async fn a_client_that_sends_headers_slowly_is_cut_off_and_others_are_served() {
    let app = spawn_app_with(|s| s.header_read_timeout = Duration::from_secs(1)).await;
    let mut slow = connect_from(&app, [127, 0, 0, 1]).await;
    let started = tokio::time::Instant::now();
    let trickle = async {
        for byte in b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Slow: " {
            if slow.write_all(&[*byte]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), trickle).await;
    assert!(
        closed_within(&mut slow, Duration::from_secs(3)).await,
        "still open"
    );
    let held = started.elapsed();
    assert!(held < Duration::from_secs(4), "held for {held:?}");
    assert_eq!(app.public_get("/health/live").await.status(), 200);
}

/// Sends a keep-alive request on `stream` and reads its whole answer (`Content-Length` bodies).
async fn keep_alive_request(stream: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let read = stream.read(&mut buf).await.unwrap();
        assert!(read > 0, "closed mid-answer");
        answer.extend_from_slice(&buf[..read]);
        let text = String::from_utf8_lossy(&answer).into_owned();
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text[..end]
                .lines()
                .find_map(|line| {
                    line.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|length| length.trim().parse().ok())
                .unwrap();
            if answer.len() >= end + 4 + length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn an_idle_connection_is_closed_one_deadline_after_its_last_answer_and_not_before() {
    let app = spawn_app_with(|s| s.header_read_timeout = Duration::from_secs(1)).await;
    let mut stream = connect_from(&app, [127, 0, 0, 5]).await;
    assert!(
        keep_alive_request(&mut stream, "/health/live")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // Well inside the deadline twice over: each answer starts it again.
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(
            keep_alive_request(&mut stream, "/health/live")
                .await
                .starts_with("HTTP/1.1 200")
        );
    }
    let answered = Instant::now();
    assert!(
        closed_within(&mut stream, Duration::from_secs(3)).await,
        "still open"
    );
    let idle = answered.elapsed();
    assert!(idle >= Duration::from_millis(900), "closed after {idle:?}");
}

/// Serves `routes` through the accept loop alone, with a header deadline of one second.
async fn serve_with_a_1_s_deadline(routes: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let limits = ConnectionLimits {
        header_read_timeout: Duration::from_secs(1),
        per_address: 0,
        trusted_proxies: Arc::new(Vec::new()),
    };
    tokio::spawn(serve(listener, routes, limits, std::future::pending()));
    address
}

#[tokio::test]
async fn a_slow_answer_or_a_slowly_written_body_is_not_cut_off_by_the_header_deadline() {
    let routes = Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(2500)).await;
                "late"
            }),
        )
        .route(
            "/trickle",
            get(|| async {
                let chunks = stream::unfold(0, |sent| async move {
                    if sent == 3 {
                        return None;
                    }
                    tokio::time::sleep(Duration::from_millis(900)).await;
                    Some((Ok::<_, std::io::Error>(format!("chunk {sent};")), sent + 1))
                });
                Body::from_stream(chunks)
            }),
        );
    let url = format!("http://{}", serve_with_a_1_s_deadline(routes).await);
    let client = reqwest::Client::new();
    let slow = client.get(format!("{url}/slow")).send().await.unwrap();
    assert_eq!(slow.text().await.unwrap(), "late");
    let trickle = client.get(format!("{url}/trickle")).send().await.unwrap();
    assert_eq!(trickle.text().await.unwrap(), "chunk 0;chunk 1;chunk 2;");
}

#[tokio::test]
async fn a_client_reading_a_large_answer_slowly_is_not_cut_off_by_the_header_deadline() {
    const LENGTH: usize = 32 * 1024 * 1024;
    // One body handed to hyper whole: it is done with the body long before the client has
    // read it, and only the socket's progress says the answer is still being written.
    let routes = Router::new().route("/large", get(|| async { vec![b'x'; LENGTH] }));
    let address = serve_with_a_1_s_deadline(routes).await;
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /large HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let mut received = 0;
    let mut buf = vec![0u8; 64 * 1024];
    while received < LENGTH {
        let read = stream.read(&mut buf).await.unwrap();
        assert!(read > 0, "closed after {received} bytes");
        received += read;
        // About 6 MB a second: the whole answer takes five deadlines to read.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(started.elapsed() > Duration::from_secs(2));
}

#[tokio::test]
async fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let app = spawn_app_with(|s| s.max_connections_per_address = 4).await;
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from(&app, [127, 0, 0, 3]).await);
    }
    // Proves the four are open and served, not just queued.
    let mut fifth = connect_from(&app, [127, 0, 0, 3]).await;
    assert!(closed_within(&mut fifth, Duration::from_secs(2)).await);
    let mut other = connect_from(&app, [127, 0, 0, 4]).await;
    assert!(health_over(&mut other).await.starts_with("HTTP/1.1 200"));
    let mut first = held.remove(0);
    assert!(health_over(&mut first).await.starts_with("HTTP/1.1 200"));
    drop(first);
    // A slot freed is a slot taken again.
    let mut again = None;
    for _ in 0..50 {
        let mut stream = connect_from(&app, [127, 0, 0, 3]).await;
        let answer = health_over(&mut stream).await;
        if answer.starts_with("HTTP/1.1 200") {
            again = Some(answer);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the freed slot never came back");
}

#[tokio::test]
async fn too_many_or_too_large_headers_are_a_problem_431() {
    let app = spawn_app().await;
    let mut many = app.client.get(app.url("/api/v1/vehicles"));
    for i in 0..150 {
        many = many.header(format!("x-filler-{i}"), "1");
    }
    let problem = assert_problem(many.send().await.unwrap(), 431).await;
    assert!(problem["detail"].as_str().unwrap().contains("headers"));
    let large = app
        .client
        .get(app.url("/health/live"))
        .header("x-filler", "a".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_problem(large, 431).await;
    // Ordinary requests are untouched.
    assert_eq!(app.public_get("/health/live").await.status(), 200);
}
