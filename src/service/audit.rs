//! Reading the audit log.

use std::sync::Arc;

use crate::{
    domain::{AuditRecord, NumberPlate, Pseudonymizer},
    store::{AuditFilter, Store},
};

use super::ServiceError;

#[derive(Clone)]
pub struct AuditService {
    store: Arc<dyn Store>,
    pseudonyms: Pseudonymizer,
}

/// One page, newest first, and the id to continue before.
#[derive(Debug)]
pub struct AuditPage {
    pub items: Vec<AuditRecord>,
    pub next_before: Option<i64>,
}

impl AuditService {
    pub fn new(store: Arc<dyn Store>, pseudonyms: Pseudonymizer) -> Self {
        Self { store, pseudonyms }
    }

    /// `entity_id` may be written as a plate in any spelling: it is also matched through the
    /// plate's pseudonym, the form in which vehicle entries are stored.
    pub async fn list(
        &self,
        mut filter: AuditFilter,
        entity_id: Option<&str>,
    ) -> Result<AuditPage, ServiceError> {
        if let Some(raw) = entity_id {
            filter.entity_ids.push(raw.to_owned());
            if let Ok(plate) = NumberPlate::parse(raw) {
                filter.entity_ids.push(self.pseudonyms.plate(&plate));
            }
        }
        let limit = filter.limit as usize;
        filter.limit += 1;
        let mut items = self.store.list_audit(&filter).await?;
        let next_before = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|e| e.id)
        });
        Ok(AuditPage {
            items,
            next_before: next_before.flatten(),
        })
    }
}
