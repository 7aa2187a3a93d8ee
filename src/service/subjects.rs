//! Subject access and erasure: everything held about one person (by plate or phone number),
//! in the live database, the audit trail and the backups, and deleting it on request.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::{BackupService, ServiceError};
use crate::{
    domain::{
        AuditAction, AuditContext, AuditRecord, FieldErrors, NumberPlate, PhoneRegion,
        Pseudonymizer, RawField, Subject,
    },
    projection::Freshness,
    store::{AuditFilter, Erased, Store, SubjectRecords, sqlite},
};

/// Audit entries returned with a subject, newest first.
const AUDIT_LIMIT: u32 = 1_000;

/// A backup file that still holds some of the subject's records, until it expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupHolding {
    pub file: String,
    pub created_at: DateTime<Utc>,
    /// When rotation deletes it (its age reaches the retention period).
    pub expires_at: DateTime<Utc>,
    pub vehicles: i64,
    pub watchlist: i64,
}

/// What a subject-access request finds.
#[derive(Debug, Clone)]
pub struct SubjectAccess {
    pub records: SubjectRecords,
    /// Entries under the pseudonyms of the subject's plates, newest first.
    pub audit: Vec<AuditRecord>,
    pub backups: Vec<BackupHolding>,
}

/// What an erasure deleted, and the backups that still hold the subject.
#[derive(Debug, Clone)]
pub struct Erasure {
    pub erased: Erased,
    pub backups: Vec<BackupHolding>,
}

#[derive(Clone)]
pub struct SubjectService {
    store: Arc<dyn Store>,
    backups: BackupService,
    pseudonyms: Pseudonymizer,
    region: PhoneRegion,
    freshness: Freshness,
}

impl SubjectService {
    pub fn new(
        store: Arc<dyn Store>,
        backups: BackupService,
        pseudonyms: Pseudonymizer,
        region: PhoneRegion,
        freshness: Freshness,
    ) -> Self {
        Self {
            store,
            backups,
            pseudonyms,
            region,
            freshness,
        }
    }

    /// Every record held about the subject, the audit entries about it and the backups
    /// holding it (found by opening each). Audited as `subject.searched`, with counts only.
    pub async fn access(
        &self,
        plate: RawField<'_>,
        phone: RawField<'_>,
        ctx: &AuditContext,
    ) -> Result<SubjectAccess, ServiceError> {
        let subject = Subject::parse(plate, phone, self.region)?;
        let records = self.store.subject_records(&subject).await?;
        let pseudonyms: Vec<String> = subject
            .plate
            .iter()
            .map(|p| p.as_str().to_owned())
            .chain(records.vehicles.iter().map(|v| v.number_plate.clone()))
            .chain(records.watchlist.iter().map(|w| w.number_plate.clone()))
            .filter_map(|p| NumberPlate::parse(&p).ok())
            .map(|p| self.pseudonyms.plate(&p))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let audit = if pseudonyms.is_empty() {
            Vec::new()
        } else {
            self.store
                .list_audit(&AuditFilter {
                    limit: AUDIT_LIMIT,
                    before_id: None,
                    action: None,
                    entity_ids: pseudonyms,
                    since: None,
                    until: None,
                })
                .await?
        };
        let backups = self.holdings(&subject).await?;
        let entry = ctx.entry(
            AuditAction::SubjectSearched,
            self.pseudonym(&subject),
            json!({
                "vehicles": records.vehicles.len(),
                "watchlist": records.watchlist.len(),
                "backups": backups.len(),
            }),
            Utc::now(),
        );
        self.store.record_audit(&entry).await?;
        Ok(SubjectAccess {
            records,
            audit,
            backups,
        })
    }

    /// Deletes every record held about the subject now, and makes the deleted bytes
    /// unreadable in the database files (SQLite). Refused unless `confirm`. Audited as
    /// `subject.erased` with the counts and the backups still holding the subject.
    pub async fn erase(
        &self,
        plate: RawField<'_>,
        phone: RawField<'_>,
        confirm: bool,
        ctx: &AuditContext,
    ) -> Result<Erasure, ServiceError> {
        let subject = Subject::parse(plate, phone, self.region)?;
        if !confirm {
            return Err(FieldErrors::single(
                "confirm",
                "must be true to delete this person's records",
            )
            .into());
        }
        let backups = self.holdings(&subject).await?;
        let entry = ctx.entry(
            AuditAction::SubjectErased,
            self.pseudonym(&subject),
            json!({
                "backups_holding": backups.iter().map(|b| b.file.as_str()).collect::<Vec<_>>(),
            }),
            Utc::now(),
        );
        let erased = self
            .store
            .erase_subject(&subject, Utc::now(), &entry)
            .await?;
        if erased.value.vehicles + erased.value.watchlist > 0 {
            self.freshness.caught_up(erased.position).await;
            if !self.store.scrub().await? && !self.store.shared() {
                tracing::warn!("erased rows may stay in the WAL until the next checkpoint");
            }
        }
        Ok(Erasure {
            erased: erased.value,
            backups,
        })
    }

    fn pseudonym(&self, subject: &Subject) -> Option<String> {
        subject.plate.as_ref().map(|p| self.pseudonyms.plate(p))
    }

    /// The backups holding any of the subject's records, newest first.
    async fn holdings(&self, subject: &Subject) -> Result<Vec<BackupHolding>, ServiceError> {
        let retention = self.store.retention().await?.period;
        let mut holding = Vec::new();
        for backup in self.backups.list()? {
            let (vehicles, watchlist) = sqlite::count_subject_in(&backup.path, subject).await?;
            if vehicles + watchlist > 0 {
                holding.push(BackupHolding {
                    expires_at: backup.created_at + retention.duration(),
                    file: backup.file,
                    created_at: backup.created_at,
                    vehicles,
                    watchlist,
                });
            }
        }
        Ok(holding)
    }
}
