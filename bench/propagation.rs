//! Cross-instance propagation: registers vehicles on one instance and times how long each
//! takes to arrive as an `added` frame on a live search held on another instance. Prints one
//! JSON line with the percentiles.
//!
//!   cargo run --release --example propagation -- WRITE_URL WATCH_WS_URL KEY SAMPLES

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::{
    connect_async,
    tungstenite::{Message, client::IntoClientRequest},
};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, write, watch, key, samples] = args.as_slice() else {
        return Err("usage: propagation WRITE_URL WATCH_WS_URL KEY SAMPLES".into());
    };
    let samples: usize = samples.parse()?;
    let mut request = watch.as_str().into_client_request()?;
    request.headers_mut().insert("X-API-Key", key.parse()?);
    let (mut ws, _) = connect_async(request).await?;
    let run = ulid::Ulid::new().to_string();
    let prefix = format!("P{}", &run[run.len() - 5..]);
    let search = format!(r#"{{"type":"search","id":"p","query":"{prefix}","limit":1}}"#);
    ws.send(Message::Text(search.into())).await?;
    next_text(&mut ws).await?;
    let client = reqwest::Client::new();
    let mut millis = Vec::with_capacity(samples);
    for i in 0..samples {
        let plate = format!("{prefix}{i}");
        let body = serde_json::json!({"number_plate": plate, "contact_name": "Lag Probe",
                                      "phone_number": "+44 20 7946 0958"});
        let sent = Instant::now();
        let response = client
            .post(format!("{write}/api/v1/vehicles"))
            .header("X-API-Key", key)
            .json(&body)
            .send()
            .await?;
        if response.status() != 201 {
            return Err(format!("registration answered {}", response.status()).into());
        }
        loop {
            let frame: serde_json::Value = serde_json::from_str(&next_text(&mut ws).await?)?;
            if frame["type"] == "added" && frame["vehicle"]["number_plate"] == plate {
                break;
            }
        }
        millis.push(sent.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    millis.sort_by(f64::total_cmp);
    let at = |p: f64| millis[((p / 100.0) * (millis.len() - 1) as f64).round() as usize];
    println!(
        "{{\"samples\": {}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"max_ms\": {:.2}}}",
        millis.len(),
        at(50.0),
        at(99.0),
        millis[millis.len() - 1]
    );
    Ok(())
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_text(ws: &mut Socket) -> Result<String, Box<dyn std::error::Error>> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await? {
            Some(Ok(Message::Text(text))) => return Ok(text.to_string()),
            Some(Ok(_)) => {}
            Some(Err(error)) => return Err(error.into()),
            None => return Err("the live search closed".into()),
        }
    }
}
