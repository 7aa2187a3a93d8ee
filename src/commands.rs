//! What each subcommand does once its arguments are parsed.

use anyhow::Context;

use std::path::Path;

use crate::{
    app::{App, AppState, open_store},
    config::{DatabaseUrl, Settings},
    domain::{AuditContext, Role},
    search::{EventBus, LiveSearch},
    service::BackupTrigger,
    store::sqlite,
    telemetry,
};

/// `parking serve`: runs until SIGTERM or SIGINT, then drains in-flight requests.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    telemetry::init(settings.log_format);
    let mut app = App::build(&settings).await?;
    if let Some(key) = app.take_first_admin_key() {
        // Shown once, on standard error and never in the logs: only its hash is stored.
        eprintln!(
            "Created the first admin API key (shown only now, store it safely):\n{}",
            key.expose()
        );
    }
    app.run_until_stopped(shutdown_signal()).await
}

/// `parking migrate`: brings the schema up to date and exits.
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    telemetry::init_for_command();
    let store = open_store(&settings.database).await?;
    store.close().await;
    eprintln!("database schema is up to date");
    Ok(())
}

/// `parking keys create`: prints the new key alone on standard output.
pub async fn create_key(settings: Settings, role: Role, name: &str) -> anyhow::Result<()> {
    let state = command_state(&settings).await?;
    let created = state
        .keys
        .create(name, role, &AuditContext::command_line())
        .await;
    state.store.close().await;
    let (record, secret) = created?;
    eprintln!(
        "created {} key {} ({}); it is shown only now",
        record.role, record.id, record.name
    );
    println!("{}", secret.expose());
    Ok(())
}

/// `parking keys list`: one line per key; secrets are never stored, so never shown.
pub async fn list_keys(settings: Settings) -> anyhow::Result<()> {
    let state = command_state(&settings).await?;
    let keys = state.keys.list().await?;
    state.store.close().await;
    println!(
        "{:<6} {:<9} {:<25} {:<10} NAME",
        "ID", "ROLE", "CREATED", "STATUS"
    );
    for key in keys {
        let status = if key.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        };
        println!(
            "{:<6} {:<9} {:<25} {:<10} {}",
            key.id,
            key.role,
            key.created_at.format("%Y-%m-%dT%H:%M:%SZ"),
            status,
            key.name
        );
    }
    Ok(())
}

/// `parking keys revoke ID`: the key stops working at once.
pub async fn revoke_key(settings: Settings, id: i64) -> anyhow::Result<()> {
    let state = command_state(&settings).await?;
    let revoked = state.keys.revoke(id, &AuditContext::command_line()).await;
    state.store.close().await;
    revoked.with_context(|| format!("cannot revoke key {id}"))?;
    eprintln!("revoked key {id}");
    Ok(())
}

async fn command_state(settings: &Settings) -> anyhow::Result<AppState> {
    telemetry::init_for_command();
    let store = open_store(&settings.database).await?;
    // One-shot commands do not search, so they skip loading the index.
    let retention = store.retention().await?.period;
    let live = LiveSearch::new(retention, EventBus::in_process());
    AppState::new(store, settings, live).await
}

/// `parking purge`: runs the retention purge once.
pub async fn purge(settings: Settings) -> anyhow::Result<()> {
    let state = command_state(&settings).await?;
    let report = state.maintenance.purge(&AuditContext::command_line()).await;
    let rotated = state.backups.rotate(chrono::Utc::now()).await;
    state.store.close().await;
    let report = report?;
    rotated?;
    eprintln!(
        "deleted {} expired vehicle(s); cut-off {}",
        report.deleted,
        report
            .cutoff
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    );
    Ok(())
}

/// `parking backup [--out FILE]`: a verified backup of the live database, in the backup folder
/// or at `FILE`. Safe while the server runs.
pub async fn backup(settings: Settings, out: Option<&Path>) -> anyhow::Result<()> {
    let state = command_state(&settings).await?;
    let ctx = AuditContext::command_line();
    let written = match out {
        Some(path) => state
            .backups
            .create_at(path, &ctx)
            .await
            .map(|size| (path.to_owned(), size)),
        None => state
            .backups
            .create(BackupTrigger::CommandLine, &ctx)
            .await
            .map(|b| (b.path, b.size_bytes)),
    };
    state.store.close().await;
    let (path, size) = written?;
    println!("{}", path.display());
    eprintln!("backup written and verified ({size} bytes)");
    Ok(())
}

/// `parking restore FILE`: replaces the database with a verified backup, keeping the old
/// one aside. Refused while a server holds the database.
pub async fn restore(settings: Settings, file: &Path) -> anyhow::Result<()> {
    telemetry::init_for_command();
    let DatabaseUrl::Sqlite(database) = &settings.database;
    let kept = sqlite::restore(database, file)
        .await
        .with_context(|| format!("cannot restore {}", file.display()))?;
    match kept {
        Some(path) => eprintln!(
            "restored; the replaced database is kept at {}",
            path.display()
        ),
        None => eprintln!("restored"),
    }
    Ok(())
}

async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested: finishing in-flight requests");
}
