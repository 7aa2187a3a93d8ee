//! Overload: ten thousand idle live searches and clients that send headers a byte at a time
//! against the real binary, and ten times the rate limit from many keys and addresses. Memory
//! stays bounded, slow clients are cut off, abusers get 429s, and well-behaved clients keep
//! being answered quickly, `/health/live` included.

use std::{
    net::{IpAddr, Ipv4Addr},
    time::{Duration, Instant},
};

use futures_util::{StreamExt, stream};
use parking::domain::Role;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use crate::{
    helpers::{create_key, spawn_app_with, vehicle},
    process::start_on,
};

const KEY: &str = "overload-test-admin-key-0123456789";
const IDLE: usize = 10_000;

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

/// A live-search connection opened by hand (no client library buffers): the upgrade, then
/// nothing.
async fn idle_live_search(address: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!(
        "GET /api/v1/ws/vehicles/search HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nX-API-Key: {KEY}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "closed during the upgrade"
        );
        answer.push(byte[0]);
    }
    assert!(
        answer.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    stream
}

/// Latencies of `n` requests a well-behaved client sends one after another.
async fn well_behaved(base: &str, key: &str, n: usize) -> Vec<Duration> {
    let client = reqwest::Client::new();
    let mut took = Vec::with_capacity(n);
    for i in 0..n {
        let path = if i % 2 == 0 {
            "/health/live"
        } else {
            "/api/v1/vehicles/LOAD1"
        };
        let started = Instant::now();
        let response = client
            .get(format!("{base}{path}"))
            .header("X-API-Key", key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        took.push(started.elapsed());
    }
    took.sort();
    took
}

fn p99(sorted: &[Duration]) -> Duration {
    sorted[(sorted.len() * 99 / 100).min(sorted.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_live_searches_and_byte_a_second_headers_leave_others_served() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("overload.db").display());
    let server = start_on(
        &url,
        Some(KEY),
        &[
            ("PARKING_WS_MAX_CONNECTIONS", "20000"),
            ("PARKING_WS_MAX_CONNECTIONS_PER_KEY", "20000"),
            ("PARKING_MAX_CONNECTIONS_PER_ADDRESS", "0"),
            ("PARKING_WS_PING_INTERVAL_SECS", "300"),
            ("PARKING_WS_IDLE_TIMEOUT_SECS", "600"),
            ("PARKING_HEADER_READ_TIMEOUT_SECS", "2"),
        ],
    )
    .await;
    let base = server.address.clone();
    let address = base.trim_start_matches("http://").to_owned();
    let client = reqwest::Client::new();
    let registered = client
        .post(format!("{base}/api/v1/vehicles"))
        .header("X-API-Key", KEY)
        .json(&vehicle("LOAD1"))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    let quiet = well_behaved(&base, KEY, 200).await;

    let before = rss_bytes(server.pid());
    let idle: Vec<TcpStream> = stream::iter(0..IDLE)
        .map(|_| idle_live_search(&address))
        .buffer_unordered(100)
        .collect()
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_bytes(server.pid());
    let per_connection = after.saturating_sub(before) / IDLE as u64;
    eprintln!(
        "{IDLE} idle live searches: {per_connection} bytes each ({} MiB in all)",
        (after - before) >> 20
    );
    assert!(
        per_connection < 32 * 1024,
        "{per_connection} bytes per idle connection"
    );
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("parking_websocket_connections {IDLE}")),
        "every connection is counted"
    );

    // Clients that send their headers a byte at a time hold nothing for long.
    let mut slow = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&address).await.unwrap();
        stream
            .write_all(b"GET /health/live HTTP/1.1\r\n")
            .await
            .unwrap();
        slow.push(stream);
    }
    let dripping = tokio::spawn(async move {
        let started = Instant::now();
        let mut open = slow;
        while !open.is_empty() && started.elapsed() < Duration::from_secs(10) {
            let mut still = Vec::new();
            for mut stream in open {
                if stream.write_all(b"X").await.is_ok() {
                    still.push(stream);
                }
            }
            open = still;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        (open.len(), started.elapsed())
    });

    // Meanwhile a well-behaved client is answered as quickly as on a quiet server.
    let loaded = well_behaved(&base, KEY, 200).await;
    let (left_open, after_secs) = dripping.await.unwrap();
    assert_eq!(
        left_open, 0,
        "slow-header clients still connected after {after_secs:?}"
    );
    eprintln!(
        "well-behaved p99: {:?} quiet, {:?} beside {IDLE} idle live searches and 200 slow clients",
        p99(&quiet),
        p99(&loaded)
    );
    assert!(
        p99(&loaded) < Duration::from_millis(250),
        "p99 {:?}",
        p99(&loaded)
    );
    drop(idle);
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_times_the_rate_limit_from_many_keys_and_addresses_leaves_others_served() {
    const PER_SEC: u32 = 5;
    let app = spawn_app_with(|s| {
        s.rate_limit = Some(parking::config::RateLimit {
            per_sec: PER_SEC,
            burst: PER_SEC,
        });
    })
    .await;
    app.register_ok(&vehicle("LOAD1")).await;
    let mut abusers = Vec::new();
    for i in 0..10u8 {
        let (_, key) = create_key(&app.state, &format!("abuser {i}"), Role::Operator).await;
        abusers.push((
            key.expose().to_owned(),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i)),
        ));
    }
    let (_, polite) = create_key(&app.state, "polite", Role::Operator).await;
    let window = Duration::from_secs(3);
    let floods: Vec<_> = abusers
        .into_iter()
        .map(|(key, from)| {
            let url = app.url("/api/v1/vehicles/LOAD1");
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .local_address(from)
                    .build()
                    .unwrap();
                let started = Instant::now();
                let (mut ok, mut limited) = (0u32, 0u32);
                while started.elapsed() < window {
                    let status = client
                        .get(&url)
                        .header("X-API-Key", &key)
                        .send()
                        .await
                        .unwrap()
                        .status();
                    match status.as_u16() {
                        200 => ok += 1,
                        429 => limited += 1,
                        other => panic!("status {other}"),
                    }
                }
                (ok, limited)
            })
        })
        .collect();
    let base = app.address.clone();
    let polite_key = polite.expose().to_owned();
    // 5 requests a second, within its own budget.
    let client = reqwest::Client::new();
    let mut took = Vec::new();
    let started = Instant::now();
    while started.elapsed() < window {
        for path in ["/health/live", "/api/v1/vehicles/LOAD1"] {
            let sent = Instant::now();
            let response = client
                .get(format!("{base}{path}"))
                .header("X-API-Key", &polite_key)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200, "{path}");
            took.push(sent.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    took.sort();
    let mut total_ok = 0;
    for flood in floods {
        let (ok, limited) = flood.await.unwrap();
        let sent = ok + limited;
        assert!(
            sent >= 10 * PER_SEC * window.as_secs() as u32,
            "only {sent} requests: not ten times the limit"
        );
        // The budget: a burst, then the rate, with a little slack for the clock.
        assert!(
            ok <= PER_SEC * (window.as_secs() as u32 + 1) + PER_SEC,
            "{ok} let through"
        );
        assert!(limited > 0);
        total_ok += ok;
    }
    eprintln!(
        "10 keys from 10 addresses: {total_ok} answered within their budgets; polite client p99 {:?}",
        p99(&took)
    );
    assert!(
        p99(&took) < Duration::from_millis(250),
        "p99 {:?}",
        p99(&took)
    );
}
