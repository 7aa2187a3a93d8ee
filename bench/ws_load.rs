//! Live-search load generator: N WebSocket connections, each sending a search and waiting for
//! its results before the next, for a fixed time. Queries are random 3-character plate
//! fragments (two letters and a digit, or a digit and two letters). Prints one JSON line with
//! throughput, round-trip and server-side (`took_us`) percentiles, errors, and this client's
//! own CPU time, so a reader can tell the client was not the bottleneck.
//!
//!   cargo run --release --example ws_load -- URL KEY CONNECTIONS SECONDS
//!
//! With a fifth argument `idle`, each connection instead subscribes to one search and then
//! stays silent (answering the server's pings) for SECONDS: the shape of a desk left open. It
//! prints `{"idle_connected": N}` once every connection is subscribed, so the caller can
//! measure the server's memory while they are held.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest},
};

#[derive(Default)]
struct Samples {
    round_trip_us: Vec<u64>,
    took_us: Vec<u64>,
    errors: u64,
}

/// xorshift: reproducible and allocation-free, good enough for picking queries.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn query(&mut self) -> String {
        let letter = |r: u64| char::from(b'A' + (r % 26) as u8);
        let digit = |r: u64| char::from(b'0' + (r % 10) as u8);
        let (a, b, c) = (self.next(), self.next(), self.next());
        if a % 2 == 0 {
            [letter(a >> 8), letter(b), digit(c)].iter().collect()
        } else {
            [digit(a >> 8), letter(b), letter(c)].iter().collect()
        }
    }
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(url: String, key: &str) -> Option<Socket> {
    let mut request = url.into_client_request().ok()?;
    request.headers_mut().insert("X-API-Key", key.parse().ok()?);
    connect_async(request).await.ok().map(|(ws, _)| ws)
}

/// Subscribes to one search, reports in, then holds the connection silently until `until`.
async fn idle(
    url: String,
    key: String,
    until: Instant,
    subscribed: tokio::sync::mpsc::Sender<bool>,
) {
    let Some(mut ws) = open(url, &key).await else {
        let _ = subscribed.send(false).await;
        return;
    };
    let frame = r#"{"type":"search","id":"idle","query":"ZZ9","limit":1}"#;
    let ok = ws.send(Message::Text(frame.into())).await.is_ok()
        && matches!(ws.next().await, Some(Ok(Message::Text(_))));
    let _ = subscribed.send(ok).await;
    let hold = tokio::time::sleep_until(until.into());
    tokio::pin!(hold);
    loop {
        tokio::select! {
            () = &mut hold => break,
            // Reading answers the server's pings.
            message = ws.next() => if message.is_none() { return },
        }
    }
    let _ = ws.close(None).await;
}

async fn connection(url: String, key: String, seed: u64, until: Instant) -> Samples {
    let mut samples = Samples::default();
    let Some(mut ws) = open(url, &key).await else {
        return Samples {
            errors: 1,
            ..Samples::default()
        };
    };
    let mut rng = Rng(seed | 1);
    while Instant::now() < until {
        let frame = format!(
            r#"{{"type":"search","id":"b","query":"{}","limit":20}}"#,
            rng.query()
        );
        let sent = Instant::now();
        if ws.send(Message::Text(frame.into())).await.is_err() {
            samples.errors += 1;
            break;
        }
        let results = loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => break Some(text),
                Some(Ok(_)) => {}
                _ => break None,
            }
        };
        let Some(text) = results else {
            samples.errors += 1;
            break;
        };
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if value["type"] != "results" {
            samples.errors += 1;
            continue;
        }
        samples
            .round_trip_us
            .push(sent.elapsed().as_micros() as u64);
        samples.took_us.push(value["took_us"].as_u64().unwrap_or(0));
    }
    let _ = ws.close(None).await;
    samples
}

async fn hold_idle(url: &str, key: &str, connections: u64, until: Instant) {
    let (subscribed, mut reports) = tokio::sync::mpsc::channel(1024);
    let mut tasks = Vec::new();
    for _ in 0..connections {
        tasks.push(tokio::spawn(idle(
            url.to_owned(),
            key.to_owned(),
            until,
            subscribed.clone(),
        )));
        // A gentle ramp: the listen backlog is finite.
        tokio::task::yield_now().await;
    }
    drop(subscribed);
    let (mut connected, mut reported) = (0u64, 0u64);
    while let Some(ok) = reports.recv().await {
        connected += u64::from(ok);
        reported += 1;
        if reported == connections {
            break;
        }
    }
    println!("{{\"idle_connected\": {connected}}}");
    for task in tasks {
        let _ = task.await;
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

/// User + system CPU seconds of this process, from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (url, key, connections, seconds, mode) = match args.as_slice() {
        [_, url, key, connections, seconds] => (url, key, connections, seconds, None),
        [_, url, key, connections, seconds, mode] => (url, key, connections, seconds, Some(mode)),
        _ => {
            eprintln!("usage: ws_load URL KEY CONNECTIONS SECONDS [idle]");
            std::process::exit(2);
        }
    };
    let connections: u64 = connections.parse().unwrap_or(1);
    let duration = Duration::from_secs(seconds.parse().unwrap_or(10));
    let started = Instant::now();
    let until = started + duration;
    if mode.is_some_and(|m| m == "idle") {
        hold_idle(url, key, connections, until).await;
        return;
    }
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            tokio::spawn(connection(
                url.clone(),
                key.clone(),
                0x9E37_79B9_7F4A_7C15 ^ (i + 1),
                until,
            ))
        })
        .collect();
    let mut all = Samples::default();
    for task in tasks {
        if let Ok(samples) = task.await {
            all.round_trip_us.extend(samples.round_trip_us);
            all.took_us.extend(samples.took_us);
            all.errors += samples.errors;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.round_trip_us.sort_unstable();
    all.took_us.sort_unstable();
    println!(
        "{{\"connections\": {connections}, \"searches\": {}, \"seconds\": {elapsed:.2}, \"searches_per_sec\": {:.0}, \
         \"rtt_p50_ms\": {:.3}, \"rtt_p99_ms\": {:.3}, \"rtt_p999_ms\": {:.3}, \
         \"took_p50_ms\": {:.3}, \"took_p99_ms\": {:.3}, \"took_p999_ms\": {:.3}, \
         \"errors\": {}, \"client_cpu_seconds\": {:.2}}}",
        all.round_trip_us.len(),
        all.round_trip_us.len() as f64 / elapsed,
        percentile(&all.round_trip_us, 50.0),
        percentile(&all.round_trip_us, 99.0),
        percentile(&all.round_trip_us, 99.9),
        percentile(&all.took_us, 50.0),
        percentile(&all.took_us, 99.0),
        percentile(&all.took_us, 99.9),
        all.errors,
        cpu_seconds(),
    );
}
