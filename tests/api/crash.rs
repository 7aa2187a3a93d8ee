//! `kill -9` at random moments under mixed load, round after round on the same database:
//! every acknowledged registration, change and deletion survives exactly as acknowledged,
//! the audit trail agrees with the data, SQLite's file passes its integrity check and its WAL
//! stays bounded. On SQLite and on PostgreSQL.

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use parking::domain::{NumberPlate, Pseudonymizer};
use serde_json::json;

use crate::{
    database::TestDatabase,
    process::{Server, start_on},
};

const KEY: &str = "crash-test-admin-key-0123456789";
const WORKERS: usize = 4;

/// A small deterministic generator: a failing round can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What clients were told, and what was still in flight when the server died.
#[derive(Default, Clone)]
struct Ledger {
    registered: BTreeSet<String>,
    deleted: BTreeSet<String>,
    delete_in_flight: BTreeSet<String>,
    /// Plate → the name acknowledged last.
    renamed: BTreeMap<String, String>,
    /// Plate → every rename sent without a `200`: any of them may have been committed before
    /// the server died (a worker goes on sending, and failing, until it is told to stop).
    rename_in_flight: BTreeMap<String, BTreeSet<String>>,
}

async fn worker(
    server: String,
    round: usize,
    id: usize,
    seed: u64,
    ledger: Arc<Mutex<Ledger>>,
    stop: tokio_util::sync::CancellationToken,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut rng = Rng(seed);
    let mut mine: Vec<String> = Vec::new();
    let mut n = 0;
    let send = |request: reqwest::RequestBuilder| request.header("X-API-Key", KEY).send();
    while !stop.is_cancelled() {
        n += 1;
        let roll = rng.below(100);
        if roll < 50 || mine.is_empty() {
            let plate = format!("C{round}W{id}N{n}");
            let body = json!({"number_plate": plate, "contact_name": "Crash Tester", "phone_number": "+44 20 7946 0958"});
            if let Ok(r) = send(client.post(format!("{server}/api/v1/vehicles")).json(&body)).await
                && r.status() == 201
            {
                ledger.lock().unwrap().registered.insert(plate.clone());
                mine.push(plate);
            }
        } else if roll < 70 {
            let plate = mine.swap_remove(rng.below(mine.len() as u64) as usize);
            ledger
                .lock()
                .unwrap()
                .delete_in_flight
                .insert(plate.clone());
            if let Ok(r) = send(client.delete(format!("{server}/api/v1/vehicles/{plate}"))).await
                && r.status() == 204
            {
                let mut ledger = ledger.lock().unwrap();
                ledger.delete_in_flight.remove(&plate);
                ledger.deleted.insert(plate);
            }
        } else if roll < 85 {
            let plate = mine[rng.below(mine.len() as u64) as usize].clone();
            let name = format!("Renamed {n}");
            ledger
                .lock()
                .unwrap()
                .rename_in_flight
                .entry(plate.clone())
                .or_default()
                .insert(name.clone());
            let body = json!({"contact_name": name});
            if let Ok(r) = send(
                client
                    .patch(format!("{server}/api/v1/vehicles/{plate}"))
                    .json(&body),
            )
            .await
                && r.status() == 200
            {
                let mut ledger = ledger.lock().unwrap();
                if let Some(sent) = ledger.rename_in_flight.get_mut(&plate) {
                    sent.remove(&name);
                }
                ledger.renamed.insert(plate, name);
            }
        } else if roll < 90 {
            let _ = send(client.post(format!("{server}/api/v1/maintenance/purge"))).await;
        } else if roll < 95 {
            let _ = send(client.post(format!("{server}/api/v1/maintenance/backup"))).await;
        } else {
            let hours = if rng.below(2) == 0 { 24 } else { 48 };
            let body = json!({"retention_hours": hours});
            let _ = send(
                client
                    .put(format!("{server}/api/v1/config/retention"))
                    .json(&body),
            )
            .await;
        }
    }
}

/// One round: start, load for a random while, `kill -9` mid-flight.
async fn crash_round(
    database: &TestDatabase,
    round: usize,
    rng: &mut Rng,
    env: &[(&str, &str)],
    ledger: &Arc<Mutex<Ledger>>,
) {
    let server: Server = start_on(&database.url(), Some(KEY), env).await;
    let stop = tokio_util::sync::CancellationToken::new();
    let workers: Vec<_> = (0..WORKERS)
        .map(|id| {
            tokio::spawn(worker(
                server.address.clone(),
                round,
                id,
                rng.next() | 1,
                ledger.clone(),
                stop.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150 + rng.below(600))).await;
    server.kill().await;
    stop.cancel();
    for worker in workers {
        worker.await.unwrap();
    }
}

fn hex_decode(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Everything acknowledged is there as acknowledged, and the audit trail agrees.
async fn verify(database: &TestDatabase, ledger: &Ledger, secret_sql: &str, round: usize) {
    let rows: BTreeMap<String, String> = database
        .texts("SELECT number_plate || '|' || contact_name FROM vehicles")
        .await
        .into_iter()
        .map(|row| {
            let (plate, name) = row.split_once('|').unwrap();
            (plate.to_owned(), name.to_owned())
        })
        .collect();
    for plate in &ledger.registered {
        let deleted = ledger.deleted.contains(plate) || ledger.delete_in_flight.contains(plate);
        if !deleted {
            assert!(
                rows.contains_key(plate),
                "round {round}: acknowledged {plate} lost"
            );
        }
    }
    for plate in &ledger.deleted {
        assert!(
            !rows.contains_key(plate),
            "round {round}: acknowledged delete of {plate} undone"
        );
    }
    for (plate, name) in &ledger.renamed {
        if let Some(stored) = rows.get(plate) {
            let unanswered = ledger.rename_in_flight.get(plate);
            assert!(
                stored == name || unanswered.is_some_and(|sent| sent.contains(stored)),
                "round {round}: {plate} is {stored:?}, acknowledged {name:?}"
            );
        }
    }
    let secret = hex_decode(&database.texts(secret_sql).await[0]);
    let pseudonyms = Pseudonymizer::new(secret);
    let of = |plate: &str| pseudonyms.plate(&NumberPlate::parse(plate).unwrap());
    let created: BTreeSet<String> = database
        .texts("SELECT entity_id FROM audit_logs WHERE action = 'vehicle.created'")
        .await
        .into_iter()
        .collect();
    let deleted: BTreeSet<String> = database
        .texts("SELECT entity_id FROM audit_logs WHERE action = 'vehicle.deleted'")
        .await
        .into_iter()
        .collect();
    for plate in rows.keys() {
        assert!(
            created.contains(&of(plate)),
            "round {round}: {plate} stored without its audit entry"
        );
        assert!(
            !deleted.contains(&of(plate)),
            "round {round}: {plate} audited as deleted but present"
        );
    }
    for plate in &ledger.deleted {
        assert!(
            deleted.contains(&of(plate)),
            "round {round}: delete of {plate} not audited"
        );
    }
}

async fn run_rounds(
    database: TestDatabase,
    rounds: usize,
    seed: u64,
    sqlite: Option<std::path::PathBuf>,
) {
    let mut rng = Rng(seed);
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let backups = tempfile::tempdir().unwrap();
    let backup_dir = backups.path().to_str().unwrap().to_owned();
    let env = [
        ("PARKING_BACKUP_DIR", backup_dir.as_str()),
        ("PARKING_PURGE_INTERVAL_SECS", "3600"),
    ];
    let secret_sql = if sqlite.is_some() {
        "SELECT hex(audit_secret) FROM system_config"
    } else {
        "SELECT encode(audit_secret, 'hex') FROM system_config"
    };
    for round in 0..rounds {
        crash_round(&database, round, &mut rng, &env, &ledger).await;
        if let Some(path) = &sqlite {
            let mut conn = crate::helpers::open_file(path).await;
            let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            assert_eq!(check, ["ok"], "round {round} (seed {seed})");
            drop(conn);
            let wal = std::fs::metadata(crate::scrubbing::wal_path(path)).map_or(0, |m| m.len());
            assert!(wal < 64 << 20, "round {round}: the WAL grew to {wal} bytes");
        }
        // Read while nothing runs: the workers have ended.
        let snapshot = ledger.lock().unwrap().clone();
        verify(&database, &snapshot, secret_sql, round).await;
    }
    let ledger = ledger.lock().unwrap();
    assert!(
        ledger.registered.len() > rounds * 5,
        "the load registered only {} vehicles in {rounds} rounds",
        ledger.registered.len()
    );
    eprintln!(
        "{rounds} crash rounds (seed {seed}): {} registrations, {} deletions, {} renames acknowledged",
        ledger.registered.len(),
        ledger.deleted.len(),
        ledger.renamed.len()
    );
}

fn seed() -> u64 {
    std::env::var("PARKING_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026_1127)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_kill_9_rounds_on_sqlite_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let database = TestDatabase::Sqlite(path.clone());
    run_rounds(database, 20, seed(), Some(path)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_kill_9_rounds_on_postgres_lose_nothing_acknowledged() {
    let database = TestDatabase::create_postgres().await;
    run_rounds(database, 10, seed(), None).await;
}
