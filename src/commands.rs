//! What each subcommand does once its arguments are parsed.

use anyhow::Context;

use crate::{
    app::{App, AppState, open_store},
    config::Settings,
    domain::Role,
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
    let (record, secret) = state.keys.create(name, role).await?;
    state.store.close().await;
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
    let revoked = state.keys.revoke(id).await;
    state.store.close().await;
    revoked.with_context(|| format!("cannot revoke key {id}"))?;
    eprintln!("revoked key {id}");
    Ok(())
}

async fn command_state(settings: &Settings) -> anyhow::Result<AppState> {
    telemetry::init_for_command();
    let store = open_store(&settings.database).await?;
    Ok(AppState::new(store, settings))
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
