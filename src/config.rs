//! Typed settings: defaults < config file < `PARKING_*` environment < command-line flags,
//! validated once at start-up so a bad value stops the service with a clear message.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, bail};
use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

pub use crate::store::DatabaseUrl;
use crate::{
    domain::{ApiKeySecret, PhoneRegion},
    store::SqliteSynchronous as Synchronous,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Requests per second and burst for each API key; `None` when rate limiting is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub per_sec: u32,
    pub burst: u32,
}

/// Limits of the live-search WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebSocketSettings {
    /// Connections beyond this are refused with 503 before the upgrade.
    pub max_connections: usize,
    /// Connections of one API key beyond this are refused with 429 before the upgrade.
    pub max_connections_per_key: usize,
    /// How often the server pings each connection.
    pub ping_interval: Duration,
    /// A connection that sends nothing (not even a pong) for this long is closed.
    pub idle_timeout: Duration,
}

/// Where traces go (`PARKING_OTLP_ENDPOINT`), and which share of them.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceSettings {
    /// The collector's OTLP/HTTP URL for traces, `…/v1/traces`.
    pub endpoint: String,
    /// Share of traces started here that are kept, 0 to 1; a continued trace follows the
    /// caller's decision.
    pub sample_ratio: f64,
}

/// The validated settings every part of the service is built from.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub database: DatabaseUrl,
    pub admin_key: Option<ApiKeySecret>,
    pub redis_url: Option<String>,
    pub purge_interval: Duration,
    pub backup_dir: PathBuf,
    pub backup_interval: Option<Duration>,
    pub backup_keep: u32,
    pub audit_retention_days: u32,
    pub rate_limit: Option<RateLimit>,
    pub cors_origins: Vec<String>,
    pub default_phone_region: PhoneRegion,
    pub log_format: LogFormat,
    pub websocket: WebSocketSettings,
    /// Prefix of every Redis key, so several deployments can share one Redis.
    pub redis_prefix: String,
    /// Peers whose `X-Forwarded-For` is believed (load balancers); empty: none.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Serve `/metrics` on this address instead of the main one.
    pub metrics_bind: Option<SocketAddr>,
    /// Requests taking longer get a 503.
    pub request_timeout: Duration,
    /// A connection must send a request's complete headers within this time.
    pub header_read_timeout: Duration,
    /// Open connections per client address; `0`: no cap.
    pub max_connections_per_address: usize,
    /// When a SQLite commit is on disk: `full` (default) survives power loss.
    pub sqlite_synchronous: Synchronous,
    /// Traces over OTLP; `None` (the default): no exporter, no spans built for it.
    pub traces: Option<TraceSettings>,
    /// This process's id among the instances on one database (a new ULID at each start): in
    /// the change feed's readers, and in traces as `service.instance.id`.
    pub instance: String,
}

/// The settings as read, before validation. Field names are the environment variables'
/// names without `PARKING_`, lower-cased; the config file uses the same names.
#[derive(Debug, Clone, Deserialize, Serialize)]
struct RawSettings {
    #[serde(deserialize_with = "text")]
    bind: String,
    #[serde(deserialize_with = "text")]
    database_url: String,
    #[serde(default, deserialize_with = "optional_text")]
    admin_key: Option<String>,
    #[serde(default, deserialize_with = "optional_text")]
    redis_url: Option<String>,
    purge_interval_secs: u64,
    backup_dir: PathBuf,
    backup_interval_secs: u64,
    backup_keep: u32,
    audit_retention_days: u32,
    rate_limit_per_sec: u32,
    rate_limit_burst: u32,
    #[serde(deserialize_with = "comma_separated")]
    cors_origins: Vec<String>,
    #[serde(deserialize_with = "text")]
    default_phone_region: String,
    log_format: LogFormat,
    ws_max_connections: usize,
    ws_max_connections_per_key: usize,
    ws_ping_interval_secs: u64,
    ws_idle_timeout_secs: u64,
    #[serde(deserialize_with = "text")]
    redis_prefix: String,
    #[serde(deserialize_with = "comma_separated")]
    trusted_proxies: Vec<String>,
    #[serde(default, deserialize_with = "optional_text")]
    metrics_bind: Option<String>,
    request_timeout_secs: u64,
    header_read_timeout_secs: u64,
    max_connections_per_address: usize,
    sqlite_synchronous: Synchronous,
    #[serde(default, deserialize_with = "optional_text")]
    otlp_endpoint: Option<String>,
    otlp_sample_ratio: f64,
}

impl Default for RawSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            database_url: "sqlite://./data/parking.db".into(),
            admin_key: None,
            redis_url: None,
            purge_interval_secs: 60,
            backup_dir: "./data/backups".into(),
            backup_interval_secs: 86_400,
            backup_keep: 7,
            audit_retention_days: 365,
            rate_limit_per_sec: 50,
            rate_limit_burst: 100,
            cors_origins: Vec::new(),
            default_phone_region: "GB".into(),
            log_format: LogFormat::Json,
            ws_max_connections: 1000,
            ws_max_connections_per_key: 100,
            ws_ping_interval_secs: 20,
            ws_idle_timeout_secs: 60,
            redis_prefix: "parking".into(),
            trusted_proxies: Vec::new(),
            metrics_bind: None,
            request_timeout_secs: 30,
            header_read_timeout_secs: 5,
            max_connections_per_address: 256,
            sqlite_synchronous: Synchronous::Full,
            otlp_endpoint: None,
            otlp_sample_ratio: 1.0,
        }
    }
}

/// Values given as command-line flags; they win over everything else.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bind: Option<String>,
    #[serde(rename = "database_url", skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

impl Settings {
    /// Reads the settings from the process environment, `config_file` and `overrides`.
    pub fn load(
        config_file: Option<&std::path::Path>,
        overrides: &Overrides,
    ) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(RawSettings::default()));
        if let Some(path) = config_file {
            if !path.is_file() {
                bail!("config file {} does not exist", path.display());
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let raw: RawSettings = figment
            .merge(Env::prefixed("PARKING_").ignore(&["config"]))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid setting: {e}"))?;
        raw.validate()
    }

    /// Settings from defaults and `overrides` only: for tests and embedding.
    pub fn from_defaults(overrides: &Overrides) -> anyhow::Result<Self> {
        let raw: RawSettings = Figment::from(Serialized::defaults(RawSettings::default()))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid setting: {e}"))?;
        raw.validate()
    }
}

impl RawSettings {
    fn validate(self) -> anyhow::Result<Settings> {
        let bind = self.bind.parse().with_context(|| {
            format!(
                "PARKING_BIND `{}` is not an address such as 127.0.0.1:8080",
                self.bind
            )
        })?;
        let database = parse_database_url(&self.database_url)?;
        let admin_key = match self.admin_key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(key) if key.len() < 16 => {
                bail!("PARKING_ADMIN_KEY must be at least 16 characters")
            }
            Some(key) => Some(ApiKeySecret::from_presented(key)),
        };
        if self.purge_interval_secs == 0 {
            bail!("PARKING_PURGE_INTERVAL_SECS must be at least 1");
        }
        if self.ws_ping_interval_secs == 0
            || self.ws_idle_timeout_secs <= self.ws_ping_interval_secs
        {
            bail!(
                "PARKING_WS_IDLE_TIMEOUT_SECS must be longer than PARKING_WS_PING_INTERVAL_SECS (at least 1)"
            );
        }
        let trusted_proxies = self
            .trusted_proxies
            .iter()
            .map(|p| {
                p.parse::<ipnet::IpNet>()
                    .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "PARKING_TRUSTED_PROXIES: `{p}` is not an IP address or CIDR range"
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let metrics_bind = match self.metrics_bind.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(addr) => Some(addr.parse().with_context(|| {
                format!("PARKING_METRICS_BIND `{addr}` is not an address such as 127.0.0.1:9090")
            })?),
        };
        if self.header_read_timeout_secs == 0 {
            bail!("PARKING_HEADER_READ_TIMEOUT_SECS must be at least 1");
        }
        if self.ws_max_connections_per_key == 0 {
            bail!("PARKING_WS_MAX_CONNECTIONS_PER_KEY must be at least 1");
        }
        if self.request_timeout_secs == 0 {
            bail!("PARKING_REQUEST_TIMEOUT_SECS must be at least 1");
        }
        if self.audit_retention_days == 0 {
            bail!("PARKING_AUDIT_RETENTION_DAYS must be at least 1");
        }
        let rate_limit = match (self.rate_limit_per_sec, self.rate_limit_burst) {
            (0, _) | (_, 0) => None,
            (per_sec, burst) => Some(RateLimit { per_sec, burst }),
        };
        let default_phone_region = self
            .default_phone_region
            .parse()
            .map_err(|e: String| anyhow::anyhow!("PARKING_DEFAULT_PHONE_REGION: {e}"))?;
        let traces = match self.otlp_endpoint.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(url) => Some(TraceSettings {
                endpoint: traces_endpoint(url)?,
                sample_ratio: sample_ratio(self.otlp_sample_ratio)?,
            }),
        };
        Ok(Settings {
            bind,
            database,
            admin_key,
            redis_url: self.redis_url.filter(|u| !u.trim().is_empty()),
            purge_interval: Duration::from_secs(self.purge_interval_secs),
            backup_dir: self.backup_dir,
            backup_interval: (self.backup_interval_secs > 0)
                .then(|| Duration::from_secs(self.backup_interval_secs)),
            backup_keep: self.backup_keep,
            audit_retention_days: self.audit_retention_days,
            rate_limit,
            cors_origins: self.cors_origins,
            default_phone_region,
            log_format: self.log_format,
            websocket: WebSocketSettings {
                max_connections: self.ws_max_connections,
                max_connections_per_key: self.ws_max_connections_per_key,
                ping_interval: Duration::from_secs(self.ws_ping_interval_secs),
                idle_timeout: Duration::from_secs(self.ws_idle_timeout_secs),
            },
            redis_prefix: self.redis_prefix,
            trusted_proxies,
            metrics_bind,
            request_timeout: Duration::from_secs(self.request_timeout_secs),
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs),
            max_connections_per_address: self.max_connections_per_address,
            sqlite_synchronous: self.sqlite_synchronous,
            traces,
            instance: ulid::Ulid::new().to_string(),
        })
    }
}

/// `http://host:port` gets OTLP's path for traces; a URL with a path is used as given.
fn traces_endpoint(url: &str) -> anyhow::Result<String> {
    let problem = || {
        anyhow::anyhow!(
            "PARKING_OTLP_ENDPOINT `{url}` must be an http:// URL such as http://127.0.0.1:4318 \
             (plain HTTP, no credentials in it: send to a collector nearby, which can forward over \
             TLS; headers such as an API key go in OTEL_EXPORTER_OTLP_HEADERS)"
        )
    };
    let uri: axum::http::Uri = url.parse().map_err(|_| problem())?;
    let credentials = uri.authority().is_some_and(|a| a.as_str().contains('@'));
    if uri.scheme_str() != Some("http")
        || uri.host().is_none()
        || uri.query().is_some()
        || credentials
    {
        return Err(problem());
    }
    Ok(match uri.path() {
        "" | "/" => format!("{}/v1/traces", url.trim_end_matches('/')),
        _ => url.to_owned(),
    })
}

fn sample_ratio(ratio: f64) -> anyhow::Result<f64> {
    if (0.0..=1.0).contains(&ratio) {
        Ok(ratio)
    } else {
        bail!("PARKING_OTLP_SAMPLE_RATIO must be between 0 and 1")
    }
}

fn parse_database_url(url: &str) -> anyhow::Result<DatabaseUrl> {
    if let Some(path) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    {
        if path.is_empty() || path.contains('?') {
            bail!("PARKING_DATABASE_URL must be sqlite://PATH with a file path and no options");
        }
        return Ok(DatabaseUrl::Sqlite(PathBuf::from(path)));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(DatabaseUrl::Postgres(url.to_owned()));
    }
    bail!("PARKING_DATABASE_URL must start with sqlite:// or postgres://")
}

/// The environment provider reads `123` as a number and `true` as a boolean; a text setting
/// takes them as written. This also keeps a secret such as `PARKING_ADMIN_KEY` out of type
/// errors, which would quote it.
#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar {
    Text(String),
    Unsigned(u64),
    Signed(i64),
    Float(f64),
    Bool(bool),
}

impl Scalar {
    fn into_text(self) -> String {
        match self {
            Scalar::Text(s) => s,
            Scalar::Unsigned(n) => n.to_string(),
            Scalar::Signed(n) => n.to_string(),
            Scalar::Float(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }
}

fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Scalar::deserialize(d).map(Scalar::into_text)
}

fn optional_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<Scalar>::deserialize(d).map(|s| s.map(Scalar::into_text))
}

/// Accepts `"a, b"` (environment) as well as `["a", "b"]` (config file).
fn comma_separated<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Origins {
        One(String),
        Many(Vec<String>),
    }
    let list = match Origins::deserialize(d)? {
        Origins::One(s) => s.split(',').map(str::to_owned).collect(),
        Origins::Many(v) => v,
    };
    Ok(list
        .into_iter()
        .map(|o| o.trim().to_owned())
        .filter(|o| !o.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = Settings::from_defaults(&Overrides::default()).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(s.database, DatabaseUrl::Sqlite("./data/parking.db".into()));
        assert_eq!(
            s.rate_limit,
            Some(RateLimit {
                per_sec: 50,
                burst: 100
            })
        );
        assert_eq!(s.purge_interval, Duration::from_secs(60));
        assert_eq!(s.backup_interval, Some(Duration::from_secs(86_400)));
        assert_eq!(s.log_format, LogFormat::Json);
        assert_eq!(s.sqlite_synchronous, Synchronous::Full);
        assert_eq!(s.header_read_timeout, Duration::from_secs(5));
        assert_eq!(s.websocket.max_connections_per_key, 100);
    }

    #[test]
    fn a_collector_address_gets_the_traces_path_and_only_plain_http_is_taken() {
        assert_eq!(
            traces_endpoint("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            traces_endpoint("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_endpoint("http://collector/otlp/v1/traces").unwrap(),
            "http://collector/otlp/v1/traces"
        );
        for refused in [
            "https://collector:4318",
            "collector:4318",
            "http://",
            "ftp://x",
            "http://user:secret@collector:4318",
        ] {
            assert!(traces_endpoint(refused).is_err(), "{refused}");
        }
        assert!(sample_ratio(1.5).is_err());
        assert!(sample_ratio(-0.1).is_err());
        assert_eq!(sample_ratio(0.25).unwrap(), 0.25);
        let defaults = Settings::from_defaults(&Overrides::default()).unwrap();
        assert_eq!(defaults.traces, None);
    }

    #[test]
    fn flags_override_defaults() {
        let overrides = Overrides {
            bind: Some("0.0.0.0:9000".into()),
            database: Some("sqlite:///tmp/x.db".into()),
        };
        let s = Settings::from_defaults(&overrides).unwrap();
        assert_eq!(s.bind.to_string(), "0.0.0.0:9000");
        assert_eq!(s.database, DatabaseUrl::Sqlite("/tmp/x.db".into()));
    }

    #[test]
    #[expect(
        clippy::result_large_err,
        reason = "figment::Jail fixes the closure's error type"
    )]
    fn environment_overrides_the_file_and_text_settings_take_any_scalar() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "parking.toml",
                "bind = \"127.0.0.1:7000\"\nlog_format = \"pretty\"\n",
            )?;
            jail.set_env("PARKING_BIND", "127.0.0.1:7001");
            jail.set_env("PARKING_SQLITE_SYNCHRONOUS", "normal");
            jail.set_env("PARKING_ADMIN_KEY", "12345678901234567890");
            jail.set_env(
                "PARKING_CORS_ORIGINS",
                "https://a.example, https://b.example",
            );
            let s = Settings::load(
                Some(std::path::Path::new("parking.toml")),
                &Overrides::default(),
            )
            .map_err(|e| e.to_string())?;
            assert_eq!(s.bind.to_string(), "127.0.0.1:7001");
            assert_eq!(s.log_format, LogFormat::Pretty);
            assert_eq!(s.sqlite_synchronous, Synchronous::Normal);
            assert_eq!(
                s.admin_key.map(|k| k.expose().to_owned()).as_deref(),
                Some("12345678901234567890")
            );
            assert_eq!(s.cors_origins, ["https://a.example", "https://b.example"]);
            let flagged = Overrides {
                bind: Some("127.0.0.1:7002".into()),
                database: None,
            };
            let s = Settings::load(Some(std::path::Path::new("parking.toml")), &flagged)
                .map_err(|e| e.to_string())?;
            assert_eq!(s.bind.to_string(), "127.0.0.1:7002");
            Ok(())
        });
    }

    #[test]
    fn bad_values_are_refused_with_the_setting_named() {
        let err = Settings::from_defaults(&Overrides {
            bind: Some("nowhere".into()),
            database: None,
        })
        .unwrap_err();
        assert!(err.to_string().contains("PARKING_BIND"), "{err}");
        let err = Settings::from_defaults(&Overrides {
            bind: None,
            database: Some("mysql://x".into()),
        })
        .unwrap_err();
        assert!(err.to_string().contains("PARKING_DATABASE_URL"), "{err}");
    }
}
