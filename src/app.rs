//! Builds the service from its settings: storage, services, router and listener.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::Router;
use tokio::net::TcpListener;

use tokio_util::sync::CancellationToken;

use crate::{
    config::{Settings, WebSocketSettings},
    domain::{ApiKeySecret, Pseudonymizer, ReportKey},
    http, jobs,
    projection::{Freshness, Projector},
    ratelimit::{RateLimiter, RedisConnection},
    search::{EventBus, LiveSearch},
    service::{
        AuditService, BackupService, KeyService, MaintenanceService, OccupancyService,
        RetentionReportService, RetentionService, SubjectService, VehicleService, WatchlistService,
    },
    store::{self, Claim, ClaimKind, OpenOptions, Store},
    telemetry::metrics::Metrics,
};

/// What every handler can reach. Cloned for every request (by each extractor), so it is one
/// shared pointer; fields are reached through `Deref`.
#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl std::ops::Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The services and shared parts behind `AppState`.
pub struct Services {
    pub vehicles: VehicleService,
    pub keys: KeyService,
    pub retention: RetentionService,
    pub occupancy: OccupancyService,
    pub watchlist: WatchlistService,
    pub maintenance: MaintenanceService,
    pub backups: BackupService,
    pub subjects: SubjectService,
    pub reports: RetentionReportService,
    pub audit: AuditService,
    pub live: LiveSearch,
    pub store: Arc<dyn Store>,
    pub websocket: WebSocketSettings,
    /// Cancelled when the server starts shutting down: live searches close with 1001.
    pub shutdown: CancellationToken,
    /// Open live-search connections, in all and per key.
    pub connections: http::ConnectionSlots,
    pub metrics: Arc<Metrics>,
    pub rate_limiter: RateLimiter,
    /// Set when `PARKING_REDIS_URL` is: readiness checks it.
    pub redis: Option<RedisConnection>,
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    pub request_timeout: std::time::Duration,
    /// How far this process's copies have followed the change feed.
    pub freshness: Freshness,
    /// This server among the others on the same database (feed position, traces).
    pub instance: String,
    /// Whether traces are exported: requests then continue a caller's trace and answer with
    /// its id.
    pub traced: bool,
}

impl AppState {
    /// Wires the services over `store` and the search index `live`; reads the audit
    /// pseudonym key once.
    pub async fn new(
        store: Arc<dyn Store>,
        settings: &Settings,
        live: LiveSearch,
        freshness: Freshness,
    ) -> anyhow::Result<Self> {
        let secret = store
            .audit_secret()
            .await
            .context("cannot read the audit key")?;
        let reports =
            RetentionReportService::new(store.clone(), ReportKey::from_database_secret(&secret));
        let pseudonyms = Pseudonymizer::new(secret);
        let metrics = Arc::new(Metrics::new());
        let redis = settings
            .redis_url
            .as_deref()
            .map(|url| RedisConnection::new(url, &settings.redis_prefix))
            .transpose()
            .context("PARKING_REDIS_URL is not a valid Redis URL")?;
        let rate_limiter = RateLimiter::new(settings.rate_limit, redis.clone(), metrics.clone());
        let backups = BackupService::new(
            store.clone(),
            settings.backup_dir.clone(),
            settings.backup_keep,
            metrics.clone(),
        );
        Ok(Self(Arc::new(Services {
            vehicles: VehicleService::new(
                store.clone(),
                settings.default_phone_region,
                pseudonyms.clone(),
                live.clone(),
                freshness.clone(),
            ),
            keys: KeyService::new(store.clone(), freshness.clone()),
            retention: RetentionService::new(store.clone(), freshness.clone()),
            occupancy: OccupancyService::new(store.clone(), live.clone(), freshness.clone()),
            watchlist: WatchlistService::new(store.clone(), pseudonyms.clone(), freshness.clone()),
            maintenance: MaintenanceService::new(
                store.clone(),
                backups.clone(),
                freshness.clone(),
                metrics.clone(),
                settings.audit_retention_days,
            ),
            subjects: SubjectService::new(
                store.clone(),
                backups.clone(),
                pseudonyms.clone(),
                settings.default_phone_region,
                freshness.clone(),
            ),
            reports,
            backups,
            audit: AuditService::new(store.clone(), pseudonyms),
            live,
            store,
            websocket: settings.websocket,
            shutdown: CancellationToken::new(),
            connections: http::ConnectionSlots::new(
                settings.websocket.max_connections,
                settings.websocket.max_connections_per_key,
            ),
            metrics,
            rate_limiter,
            redis,
            trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
            request_timeout: settings.request_timeout,
            freshness,
            instance: settings.instance.clone(),
            traced: settings.traces.is_some(),
        })))
    }
}

/// Opens the database the settings name, running its migrations.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    let options = OpenOptions {
        sqlite_synchronous: settings.sqlite_synchronous,
    };
    let store = store::open(&settings.database, options)
        .await
        .with_context(|| format!("cannot open the database {}", settings.database))?;
    // Only with traces on does each store call get a span; otherwise the store is called
    // directly.
    Ok(if settings.traces.is_some() {
        store::traced(store, settings.database.system())
    } else {
        store
    })
}

/// A service bound to its address and ready to run.
pub struct App {
    listener: TcpListener,
    router: Router,
    /// `/metrics` on its own address (`PARKING_METRICS_BIND`).
    metrics_listener: Option<TcpListener>,
    state: AppState,
    settings: Settings,
    first_admin_key: Option<ApiKeySecret>,
    background_jobs: bool,
    /// Stops the change-feed reader when the app stops (or is dropped unstarted).
    _projector: tokio_util::sync::DropGuard,
    /// Held while serving, so `restore` cannot replace the data under us.
    _claim: Claim,
}

impl App {
    /// Opens storage, makes sure an admin key exists and binds the listener (port 0 picks a
    /// free port, which tests use).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let store = open_store(settings).await?;
        let claim = store
            .claim(ClaimKind::Serve)
            .await
            .context("cannot start: the database is in use")?;
        tokio::task::spawn_blocking(crate::domain::PhoneNumber::warm_up).await?;
        // The feed position first: every change from here on reaches the index, including
        // those committed while it loads (applying one twice changes nothing).
        let start = store
            .feed_frontier()
            .await
            .context("cannot read the change feed")?;
        let live = LiveSearch::load(store.clone(), EventBus::in_process())
            .await
            .context("cannot build the search index")?;
        let freshness = Freshness::new();
        let state = AppState::new(store.clone(), settings, live.clone(), freshness.clone()).await?;
        state
            .keys
            .refresh()
            .await
            .context("cannot read the API keys")?;
        let projector = Projector::new(
            store,
            live,
            state.keys.clone(),
            state.metrics.clone(),
            state.instance.clone(),
            start,
            &freshness,
        );
        let stop_projector = CancellationToken::new();
        tokio::spawn(projector.run(stop_projector.clone()));
        let first_admin_key = state
            .keys
            .ensure_admin(settings.admin_key.as_ref())
            .await
            .context("cannot set up the admin key")?;
        let listener = TcpListener::bind(settings.bind)
            .await
            .with_context(|| format!("cannot listen on {}", settings.bind))?;
        let metrics_listener = match settings.metrics_bind {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen for metrics on {addr}"))?,
            ),
            None => None,
        };
        Ok(Self {
            listener,
            router: http::router(state.clone(), settings),
            metrics_listener,
            state,
            settings: settings.clone(),
            first_admin_key,
            background_jobs: true,
            _projector: stop_projector.drop_guard(),
            _claim: claim,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // A bound TCP listener always has a local address.
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Where `/metrics` is served when it has its own address.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves without scheduling the purge and backup jobs. Tests use this and call each
    /// job's `run_once` themselves, so that no scheduled run races with what they check.
    pub fn without_background_jobs(mut self) -> Self {
        self.background_jobs = false;
        self
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
        let stopping = CancellationToken::new();
        let mut jobs = if self.background_jobs {
            jobs::spawn(&self.state, &self.settings, &stopping)
        } else {
            Vec::new()
        };
        let live = self.state.live.clone();
        let sweeper_stop = stopping.clone();
        jobs.push(tokio::spawn(async move {
            live.sweep_expired(sweeper_stop).await
        }));

        // Live searches are told first, so their connections close (1001) and the server's
        // graceful shutdown does not wait on them.
        let closing = self.state.shutdown.clone();
        let shutdown = async move {
            shutdown.await;
            closing.cancel();
        };
        let address = self.local_addr();
        let limits = http::server::ConnectionLimits {
            header_read_timeout: self.settings.header_read_timeout,
            per_address: self.settings.max_connections_per_address,
            trusted_proxies: self.state.trusted_proxies.clone(),
        };
        if let Some(listener) = self.metrics_listener {
            let router = http::metrics_router(self.state.clone());
            let stop = stopping.clone();
            let limits = limits.clone();
            jobs.push(tokio::spawn(async move {
                let stopped = async move { stop.cancelled().await };
                let served = http::server::serve(listener, router, limits, stopped).await;
                if let Err(error) = served {
                    tracing::error!(%error, "the metrics server failed");
                }
            }));
        }
        tracing::info!(%address, "listening");
        let served = http::server::serve(self.listener, self.router, limits, shutdown)
            .await
            .context("the HTTP server failed");
        stopping.cancel();
        for job in jobs {
            let _ = job.await;
        }
        self.state.keys.flush().await;
        self.state.store.close().await;
        served?;
        tracing::info!("stopped");
        Ok(())
    }
}
