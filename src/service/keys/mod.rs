//! API keys: creating, listing, revoking, and recognising the key on a request.

mod active;
mod recognition;

use std::sync::Arc;

use super::ServiceError;
use crate::{
    domain::{
        ApiKeyHash, ApiKeySecret, AuditAction, AuditContext, FieldErrors, KeyName, NewKeySpec, Role,
    },
    projection::Freshness,
    store::{ApiKeyRecord, NewApiKey, Revocation, Store, StoreError},
};
pub use active::{ActiveKeys, KeyWatch};
use chrono::Utc;
use recognition::Recognition;
use serde_json::json;

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
    pub expires_at: Option<chrono::DateTime<Utc>>,
}

impl From<&ApiKeyRecord> for Caller {
    fn from(record: &ApiKeyRecord) -> Self {
        Self {
            key_id: record.id,
            name: record.name.clone(),
            role: record.role,
            expires_at: record.expires_at,
        }
    }
}

#[derive(Clone)]
pub struct KeyService {
    store: Arc<dyn Store>,
    recognition: Recognition,
    active: KeyWatch,
    freshness: Freshness,
}

impl KeyService {
    pub fn new(store: Arc<dyn Store>, freshness: Freshness) -> Self {
        Self {
            recognition: Recognition::new(store.clone()),
            active: KeyWatch::default(),
            store,
            freshness,
        }
    }

    /// Whether this process recognised the presented key recently. A known key is not
    /// charged to its address's rate-limit budget before it is checked.
    pub fn known(&self, hash: &ApiKeyHash) -> bool {
        self.recognition.cached(hash).is_some()
    }

    /// The caller a presented key belongs to; `None` for unknown, revoked or expired keys.
    /// From this process's cache when it is the only server on the database (every
    /// revocation reaches the cache through the change feed before it is acknowledged);
    /// confirmed by the database when other servers share it.
    pub async fn recognise(&self, hash: &ApiKeyHash) -> Result<Option<Caller>, StoreError> {
        if !self.store.shared()
            && let Some(caller) = self.recognition.cached(hash)
        {
            return Ok(Some(caller));
        }
        self.recognition.lookup(hash).await
    }

    /// Like `recognise`, from the key as presented.
    pub async fn authenticate(&self, presented: &str) -> Result<Option<Caller>, StoreError> {
        self.recognise(&ApiKeySecret::from_presented(presented).hash())
            .await
    }

    /// The keys active now; changes whenever one is created, revoked or expires. Open
    /// connections watch it so a revocation reaches them too.
    pub fn active_keys(&self) -> tokio::sync::watch::Receiver<Arc<ActiveKeys>> {
        self.active.subscribe()
    }

    /// Reads the active keys from the database, publishes them if they changed, forgets
    /// cached keys that are no longer active, and writes pending last-use times. The change
    /// feed calls this whenever keys change.
    pub async fn refresh(&self) -> Result<(), StoreError> {
        let taken_at = tokio::time::Instant::now();
        let keys = self.store.active_api_keys(Utc::now()).await?;
        let active = ActiveKeys::new(&keys, taken_at);
        self.recognition
            .retain(|caller| active.allows(caller.key_id, caller.role));
        self.active.publish(active);
        self.recognition.flush_uses().await
    }

    /// Writes the last-use times not written yet (at shutdown; the change feed's refreshes
    /// write them otherwise).
    pub async fn flush(&self) {
        if let Err(error) = self.recognition.flush_uses().await {
            tracing::warn!(%error, "cannot record when API keys were last used");
        }
    }

    /// Creates a key; its secret is returned once and never stored.
    pub async fn create(
        &self,
        spec: NewKeySpec,
        ctx: &AuditContext,
    ) -> Result<(ApiKeyRecord, ApiKeySecret), ServiceError> {
        let secret = ApiKeySecret::generate()?;
        let now = Utc::now();
        let audit = created_entry(ctx, &spec.name, spec.role, now);
        let key = NewApiKey {
            name: spec.name,
            role: spec.role,
            hash: secret.hash(),
            expires_at: spec.expires_at,
        };
        let written = self.store.insert_api_key(&key, now, &audit).await?;
        self.freshness.caught_up(written.position).await;
        Ok((written.value, secret))
    }

    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.store.list_api_keys().await?)
    }

    /// Revokes an active key. The last active admin key cannot be revoked: nobody could
    /// administer the service afterwards.
    pub async fn revoke(&self, id: i64, ctx: &AuditContext) -> Result<(), ServiceError> {
        let now = Utc::now();
        let audit = ctx.entry(
            AuditAction::ApiKeyRevoked,
            Some(id.to_string()),
            json!({}),
            now,
        );
        match self.store.revoke_api_key(id, now, &audit).await? {
            Revocation::Revoked(position) => {
                self.freshness.caught_up(position).await;
                Ok(())
            }
            Revocation::NotFound => Err(ServiceError::NotFound("no active API key has this id")),
            Revocation::LastAdmin => Err(ServiceError::Conflict(
                "this is the last active admin key: create another admin key before revoking it",
            )),
        }
    }

    /// Makes sure an admin can get in: registers `PARKING_ADMIN_KEY` when set, otherwise
    /// creates a first admin key when none is active and returns it so it can be shown once.
    pub async fn ensure_admin(
        &self,
        env_key: Option<&ApiKeySecret>,
    ) -> Result<Option<ApiKeySecret>, ServiceError> {
        let ctx = AuditContext::system();
        let now = Utc::now();
        if let Some(secret) = env_key {
            let name = KeyName::parse(ENV_KEY_NAME).map_err(|m| FieldErrors::single("name", m))?;
            let audit = created_entry(&ctx, &name, Role::Admin, now);
            let key = NewApiKey {
                name,
                role: Role::Admin,
                hash: secret.hash(),
                expires_at: None,
            };
            if let Some(position) = self.store.ensure_env_admin_key(&key, now, &audit).await? {
                self.freshness.caught_up(position).await;
            }
            return Ok(None);
        }
        if self.store.has_active_admin_key(now).await? {
            return Ok(None);
        }
        let spec = NewKeySpec {
            name: KeyName::parse(FIRST_KEY_NAME).map_err(|m| FieldErrors::single("name", m))?,
            role: Role::Admin,
            expires_at: None,
        };
        let (_, secret) = self.create(spec, &ctx).await?;
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
