//! The watchlist: plates staff want to hear about when they arrive. Every change is audited
//! under a pseudonym of the plate, without the note (free text that may name a person).

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::ServiceError;
use crate::{
    domain::{
        AuditAction, AuditContext, FieldErrors, NumberPlate, Pseudonymizer, RawField, WatchEntry,
        WatchNote,
    },
    projection::Freshness,
    store::{Store, WatchAudit},
};

const NOT_FOUND: &str = "this number plate is not on the watchlist";

#[derive(Clone)]
pub struct WatchlistService {
    store: Arc<dyn Store>,
    pseudonyms: Pseudonymizer,
    freshness: Freshness,
}

impl WatchlistService {
    pub fn new(store: Arc<dyn Store>, pseudonyms: Pseudonymizer, freshness: Freshness) -> Self {
        Self {
            store,
            pseudonyms,
            freshness,
        }
    }

    pub async fn list(&self) -> Result<Vec<WatchEntry>, ServiceError> {
        Ok(self.store.list_watch(Utc::now()).await?)
    }

    pub async fn get(&self, plate: &str) -> Result<WatchEntry, ServiceError> {
        let plate = NumberPlate::parse(plate).map_err(|_| ServiceError::NotFound(NOT_FOUND))?;
        self.store
            .find_watch(&plate, Utc::now())
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))
    }

    /// Adds the plate, or replaces its note; `true` when it was added.
    pub async fn put(
        &self,
        plate: &str,
        note: RawField<'_>,
        ctx: &AuditContext,
    ) -> Result<(WatchEntry, bool), ServiceError> {
        let mut errors = FieldErrors::default();
        let plate = errors.take("number_plate", NumberPlate::parse(plate));
        let note = errors.take("note", note.required().and_then(WatchNote::parse));
        let (Some(plate), Some(note)) = (plate, note) else {
            return Err(errors.into());
        };
        let now = Utc::now();
        let pseudonym = Some(self.pseudonyms.plate(&plate));
        let entry = |action| ctx.entry(action, pseudonym.clone(), json!({}), now);
        let audit = WatchAudit {
            added: entry(AuditAction::WatchlistAdded),
            updated: entry(AuditAction::WatchlistUpdated),
        };
        let written = self.store.put_watch(&plate, &note, now, &audit).await?;
        self.freshness.caught_up(written.position).await;
        Ok(written.value)
    }

    pub async fn remove(&self, plate: &str, ctx: &AuditContext) -> Result<(), ServiceError> {
        let plate = NumberPlate::parse(plate).map_err(|_| ServiceError::NotFound(NOT_FOUND))?;
        let now = Utc::now();
        let audit = ctx.entry(
            AuditAction::WatchlistRemoved,
            Some(self.pseudonyms.plate(&plate)),
            json!({}),
            now,
        );
        let removed = self
            .store
            .delete_watch(&plate, now, &audit)
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))?;
        self.freshness.caught_up(removed.position).await;
        Ok(())
    }
}
