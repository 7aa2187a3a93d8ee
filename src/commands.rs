//! What each subcommand does once its arguments are parsed.

use anyhow::Context;

use std::path::Path;

use crate::{
    app::{App, AppState, open_store},
    config::Settings,
    domain::{AuditContext, NewKeySpec, RawField, ReportKey, Role},
    projection::Freshness,
    search::{EventBus, LiveSearch},
    service::BackupTrigger,
    store::{self, ApiKeyRecord, ClaimKind},
    telemetry,
};

/// `parking serve`: runs until SIGTERM or SIGINT, then drains in-flight requests.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let telemetry = telemetry::init(
        settings.log_format,
        settings.traces.as_ref(),
        &settings.instance,
    )
    .context("cannot set up the trace exporter")?;
    if let Some(limit) = crate::http::server::raise_open_file_limit() {
        tracing::info!(limit, "open file limit");
    }
    if let Some(trace_settings) = &settings.traces {
        tracing::info!(
            endpoint = %trace_settings.endpoint,
            sample_ratio = trace_settings.sample_ratio,
            "exporting traces"
        );
    }
    let served = async {
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
    .await;
    if let Some(traces) = telemetry.traces {
        traces.shutdown().await;
    }
    served
}

/// `parking migrate`: brings the schema up to date and exits.
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    telemetry::init_for_command();
    let store = open_store(&settings).await?;
    store.close().await;
    eprintln!("database schema is up to date");
    Ok(())
}

/// `parking keys create`: prints the new key alone on standard output.
pub async fn create_key(
    settings: Settings,
    role: Role,
    name: &str,
    expires_at: Option<&str>,
) -> anyhow::Result<()> {
    let spec = NewKeySpec::parse(
        RawField::Text(name),
        RawField::Text(role.as_str()),
        expires_at.map_or(RawField::Absent, RawField::Text),
        chrono::Utc::now(),
    )
    .map_err(|errors| anyhow::anyhow!("{}", errors.summary()))?;
    let state = command_state(&settings).await?;
    let created = state.keys.create(spec, &AuditContext::command_line()).await;
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
    print_keys(&keys, chrono::Utc::now());
    Ok(())
}

/// The key table of `keys list` and `restore`.
fn print_keys(keys: &[ApiKeyRecord], now: chrono::DateTime<chrono::Utc>) {
    let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
        at.map_or_else(
            || "-".to_owned(),
            |at| at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        )
    };
    println!(
        "{:<6} {:<9} {:<21} {:<21} {:<21} {:<8} NAME",
        "ID", "ROLE", "CREATED", "EXPIRES", "LAST USED", "STATUS"
    );
    for key in keys {
        let status = match (key.revoked_at, key.is_active(now)) {
            (Some(_), _) => "revoked",
            (None, false) => "expired",
            (None, true) => "active",
        };
        println!(
            "{:<6} {:<9} {:<21} {:<21} {:<21} {:<8} {}",
            key.id,
            key.role,
            time(Some(key.created_at)),
            time(key.expires_at),
            time(key.last_used_at),
            status,
            key.name
        );
    }
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
    let store = open_store(settings).await?;
    // One-shot commands do not search, so they skip loading the index.
    let retention = store.retention().await?.period;
    let live = LiveSearch::new(retention, EventBus::in_process(), false);
    AppState::new(store, settings, live, Freshness::none()).await
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

/// `parking verify-report FILE`: checks a saved retention report's signature with the
/// database's secret (the database is only read).
pub async fn verify_report(settings: Settings, file: &Path) -> anyhow::Result<()> {
    telemetry::init_for_command();
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let store = open_store(&settings).await?;
    let secret = store.audit_secret().await;
    store.close().await;
    let key =
        ReportKey::from_database_secret(&secret.context("cannot read the database's secret")?);
    key.verify(&text)
        .with_context(|| format!("{} does not check out", file.display()))?;
    eprintln!("{}: the signature is valid", file.display());
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

/// `parking restore FILE`: replaces the data with a verified backup's. Refused while a server
/// holds the database. What it replaces is first saved as a backup like any other (so the
/// same retention rules delete it), unless `discard_current` says to drop it.
pub async fn restore(settings: Settings, file: &Path, discard_current: bool) -> anyhow::Result<()> {
    telemetry::init_for_command();
    store::verify_backup(file)
        .await
        .with_context(|| format!("cannot restore {}", file.display()))?;
    let state = command_state(&settings).await?;
    let restored = restore_into(&state, file, discard_current).await;
    let keys = state.keys.list().await;
    state.store.close().await;
    match restored? {
        Some(backup) => eprintln!(
            "restored; the data it replaced was saved as the backup {} (deleted, like every \
             backup, once the retention period has passed)",
            backup.path.display()
        ),
        None => eprintln!("restored; the data it replaced was discarded"),
    }
    eprintln!("API keys in the restored database (every active one can call the service):");
    print_keys(&keys?, chrono::Utc::now());
    Ok(())
}

async fn restore_into(
    state: &AppState,
    file: &Path,
    discard_current: bool,
) -> anyhow::Result<Option<crate::service::BackupInfo>> {
    let _claim = state
        .store
        .claim(ClaimKind::Maintain)
        .await
        .context("cannot restore while a server uses the database")?;
    let kept = if discard_current {
        None
    } else {
        let backup = state
            .backups
            .create(BackupTrigger::BeforeRestore, &AuditContext::command_line())
            .await
            .context(
                "cannot back up the current data before replacing it; \
                 pass --discard-current to replace it without a backup",
            )?;
        Some(backup)
    };
    state
        .store
        .load_backup(file)
        .await
        .with_context(|| format!("cannot restore {}", file.display()))?;
    Ok(kept)
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
