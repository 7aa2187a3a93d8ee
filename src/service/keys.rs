//! API keys: creating, listing, revoking, and recognising the key on a request.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
    time::{Duration, Instant},
};

use chrono::Utc;
use serde_json::json;

use super::ServiceError;
use crate::{
    domain::{ApiKeySecret, AuditAction, AuditContext, FieldErrors, KeyName, Role},
    store::{ApiKeyRecord, NewApiKey, Store, StoreError},
};

/// Name under which the key from `PARKING_ADMIN_KEY` is stored.
const ENV_KEY_NAME: &str = "PARKING_ADMIN_KEY";
/// Name of the admin key created on first start.
const FIRST_KEY_NAME: &str = "initial-admin";

/// The authenticated key behind a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub key_id: i64,
    pub name: String,
    pub role: Role,
}

/// How long a key lookup is reused. Keys revoked by this process are dropped from the cache at
/// once; a revocation made by another process (`parking keys revoke`) applies within this.
const CACHE_FOR: Duration = Duration::from_secs(1);
/// Bound on cached lookups, so that requests with random keys cannot grow memory.
const CACHE_ENTRIES: usize = 10_000;

type KeyCache = HashMap<String, (Option<Caller>, Instant)>;

#[derive(Clone)]
pub struct KeyService {
    store: Arc<dyn Store>,
    /// Lookups by key hash: every request presents a key, and a cached answer saves the
    /// database round trip that would otherwise cost as much as the request's own work.
    cache: Arc<RwLock<KeyCache>>,
}

impl KeyService {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            cache: Arc::default(),
        }
    }

    /// The caller a presented key belongs to; `None` for unknown or revoked keys.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<Caller>, StoreError> {
        let hash = ApiKeySecret::from_presented(presented).hash();
        let cached = self.read_cache().get(hash.as_str()).cloned();
        if let Some((caller, at)) = cached
            && at.elapsed() < CACHE_FOR
        {
            return Ok(caller);
        }
        let record = self.store.find_active_api_key(hash.as_str()).await?;
        let caller = record.map(|r| Caller {
            key_id: r.id,
            name: r.name,
            role: r.role,
        });
        let mut cache = self.cache.write().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= CACHE_ENTRIES {
            cache.clear();
        }
        cache.insert(hash.as_str().to_owned(), (caller.clone(), Instant::now()));
        Ok(caller)
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, KeyCache> {
        self.cache.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Creates a key; its secret is returned once and never stored.
    pub async fn create(
        &self,
        name: &str,
        role: Role,
        ctx: &AuditContext,
    ) -> Result<(ApiKeyRecord, ApiKeySecret), ServiceError> {
        let name = KeyName::parse(name).map_err(|m| FieldErrors::single("name", m))?;
        let secret = ApiKeySecret::generate()?;
        let now = Utc::now();
        let audit = created_entry(ctx, &name, role, now);
        let key = NewApiKey {
            name,
            role,
            hash: secret.hash(),
        };
        let record = self.store.insert_api_key(&key, now, &audit).await?;
        Ok((record, secret))
    }

    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.store.list_api_keys().await?)
    }

    pub async fn revoke(&self, id: i64, ctx: &AuditContext) -> Result<(), ServiceError> {
        let now = Utc::now();
        let audit = ctx.entry(
            AuditAction::ApiKeyRevoked,
            Some(id.to_string()),
            json!({}),
            now,
        );
        if self.store.revoke_api_key(id, now, &audit).await? {
            self.cache
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
            Ok(())
        } else {
            Err(ServiceError::NotFound("no active API key has this id"))
        }
    }

    /// Makes sure an admin can get in: registers `PARKING_ADMIN_KEY` when set, otherwise
    /// creates a first admin key when none exists and returns it so it can be shown once.
    pub async fn ensure_admin(
        &self,
        env_key: Option<&ApiKeySecret>,
    ) -> Result<Option<ApiKeySecret>, ServiceError> {
        let ctx = AuditContext::system();
        if let Some(secret) = env_key {
            let name = KeyName::parse(ENV_KEY_NAME).map_err(|m| FieldErrors::single("name", m))?;
            let now = Utc::now();
            let audit = created_entry(&ctx, &name, Role::Admin, now);
            let key = NewApiKey {
                name,
                role: Role::Admin,
                hash: secret.hash(),
            };
            self.store.ensure_env_admin_key(&key, now, &audit).await?;
            return Ok(None);
        }
        if self.store.has_active_admin_key().await? {
            return Ok(None);
        }
        let (_, secret) = self.create(FIRST_KEY_NAME, Role::Admin, &ctx).await?;
        Ok(Some(secret))
    }
}

/// The store fills in the key's id once it is known.
fn created_entry(
    ctx: &AuditContext,
    name: &KeyName,
    role: Role,
    now: chrono::DateTime<Utc>,
) -> crate::domain::NewAuditEntry {
    ctx.entry(
        AuditAction::ApiKeyCreated,
        None,
        json!({ "name": name.as_str(), "role": role.as_str() }),
        now,
    )
}
