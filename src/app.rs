//! Builds the service from its settings: storage, services, router and listener.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use crate::{
    config::{DatabaseUrl, Settings},
    domain::ApiKeySecret,
    http,
    service::{KeyService, VehicleService},
    store::{Store, sqlite::SqliteStore},
};

/// What every handler can reach. Cheap to clone: the heavy parts are shared.
#[derive(Clone)]
pub struct AppState {
    pub vehicles: VehicleService,
    pub keys: KeyService,
    pub store: Arc<dyn Store>,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>, settings: &Settings) -> Self {
        Self {
            vehicles: VehicleService::new(store.clone(), settings.default_phone_region),
            keys: KeyService::new(store.clone()),
            store,
        }
    }
}

/// Opens the database the settings name, running its migrations.
pub async fn open_store(database: &DatabaseUrl) -> anyhow::Result<Arc<dyn Store>> {
    match database {
        DatabaseUrl::Sqlite(path) => {
            let store = SqliteStore::open(path).await.with_context(|| {
                format!("cannot open the SQLite database at {}", path.display())
            })?;
            Ok(Arc::new(store))
        }
    }
}

/// A service bound to its address and ready to run.
pub struct App {
    listener: TcpListener,
    router: Router,
    state: AppState,
    first_admin_key: Option<ApiKeySecret>,
}

impl App {
    /// Opens storage, makes sure an admin key exists and binds the listener (port 0 picks a
    /// free port, which tests use).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let store = open_store(&settings.database).await?;
        tokio::task::spawn_blocking(crate::domain::PhoneNumber::warm_up).await?;
        let state = AppState::new(store, settings);
        let first_admin_key = state
            .keys
            .ensure_admin(settings.admin_key.as_ref())
            .await
            .context("cannot set up the admin key")?;
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        Ok(Self {
            listener,
            router: http::router(state.clone()),
            state,
            first_admin_key,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // A bound TCP listener always has a local address.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The admin key created on this start because none existed, to be shown once.
    pub fn take_first_admin_key(&mut self) -> Option<ApiKeySecret> {
        self.first_admin_key.take()
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(address = %self.local_addr(), "listening");
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .context("the HTTP server failed")?;
        self.state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}
