//! Registering, finding, changing and removing parked vehicles. Every change is audited in
//! the same transaction, under a pseudonym of the plate.

use std::sync::Arc;

use chrono::{SecondsFormat, Utc};
use futures_util::Stream;
use serde_json::json;

use super::ServiceError;
use crate::{
    domain::{
        AuditAction, AuditContext, FieldErrors, NewHold, NewVehicle, NumberPlate, ParseContext,
        PhoneRegion, Pseudonymizer, RawField, RawNewVehicle, Reason, Registered, Vehicle,
        VehicleChanges,
    },
    projection::Freshness,
    search::LiveSearch,
    store::{InsertAudit, Store, VehicleCursor, VehicleFilter},
};

const NOT_FOUND: &str = "no vehicle with this number plate is parked";

/// Vehicles read per page of an export: memory stays flat at any number of vehicles.
const EXPORT_PAGE: u32 = 1_000;

/// One page of a listing, and where the next one starts.
#[derive(Debug)]
pub struct VehiclePage {
    pub items: Vec<Vehicle>,
    pub next: Option<VehicleCursor>,
}

#[derive(Clone)]
pub struct VehicleService {
    store: Arc<dyn Store>,
    region: PhoneRegion,
    pseudonyms: Pseudonymizer,
    live: LiveSearch,
    freshness: Freshness,
}

impl VehicleService {
    pub fn new(
        store: Arc<dyn Store>,
        region: PhoneRegion,
        pseudonyms: Pseudonymizer,
        live: LiveSearch,
        freshness: Freshness,
    ) -> Self {
        Self {
            store,
            region,
            pseudonyms,
            live,
            freshness,
        }
    }

    pub async fn register(
        &self,
        raw: RawNewVehicle<'_>,
        ctx: &AuditContext,
    ) -> Result<Registered, ServiceError> {
        let now = Utc::now();
        let retention = if self.live.authoritative() {
            self.live.retention()
        } else {
            // Another instance may have changed it a moment ago.
            self.store.retention().await?.period
        };
        let parse = ParseContext {
            region: self.region,
            now,
            retention,
        };
        let vehicle = NewVehicle::parse(raw, parse)?;
        let pseudonym = Some(self.pseudonyms.plate(&vehicle.plate));
        let entry = vehicle
            .entry
            .at()
            .to_rfc3339_opts(SecondsFormat::Millis, true);
        let audit = InsertAudit {
            created: ctx.entry(
                AuditAction::VehicleCreated,
                pseudonym.clone(),
                json!({ "entry_timestamp": entry }),
                now,
            ),
            replaced_expired: ctx.entry(
                AuditAction::VehiclesPurged,
                None,
                json!({ "deleted": 1, "reason": "expired record replaced by a new registration" }),
                now,
            ),
        };
        let written = self.store.insert_vehicle(&vehicle, now, &audit).await?;
        self.freshness.caught_up(written.position).await;
        let mut registered = written.value;
        if self.live.authoritative() {
            // Every vehicle committed before this one is in the index now.
            registered.similar_plates = self.live.similar_plates(vehicle.plate.as_str());
        }
        Ok(registered)
    }

    /// Served from the search index when it is the whole truth (one server on the database):
    /// it holds every live vehicle, by plate. The database answers when other servers write
    /// too.
    pub async fn find(&self, plate: &str) -> Result<Vehicle, ServiceError> {
        let plate = lookup_plate(plate)?;
        if self.live.authoritative() {
            return self
                .live
                .find_plate(plate.as_str())
                .ok_or(ServiceError::NotFound(NOT_FOUND));
        }
        self.store
            .find_vehicle(&plate, Utc::now())
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))
    }

    /// A parked vehicle's phone number in full, for a caller who sees it masked. Audited with
    /// the reason and the caller's key before it is returned.
    pub async fn reveal(
        &self,
        plate: &str,
        reason: RawField<'_>,
        ctx: &AuditContext,
    ) -> Result<Vehicle, ServiceError> {
        let vehicle = self.find(plate).await?;
        let reason = reason
            .required()
            .and_then(|raw| Reason::parse(raw, &vehicle))
            .map_err(|message| FieldErrors::single("reason", message))?;
        let plate = lookup_plate(&vehicle.number_plate)?;
        let audit = ctx.entry(
            AuditAction::VehiclePhoneRevealed,
            Some(self.pseudonyms.plate(&plate)),
            json!({ "reason": reason.as_str() }),
            Utc::now(),
        );
        self.store.record_audit(&audit).await?;
        Ok(vehicle)
    }

    /// Keeps a parked vehicle past its retention until `until` (at most a year), for a reason
    /// that names nobody; replaces a hold it has. Audited with the reason and the end.
    pub async fn hold(
        &self,
        plate: &str,
        reason: RawField<'_>,
        until: RawField<'_>,
        ctx: &AuditContext,
    ) -> Result<Vehicle, ServiceError> {
        let vehicle = self.find(plate).await?;
        let now = Utc::now();
        let hold = NewHold::parse(reason.required(), until.required(), &vehicle, now)?;
        let plate = lookup_plate(&vehicle.number_plate)?;
        let audit = ctx.entry(
            AuditAction::VehicleHeld,
            Some(self.pseudonyms.plate(&plate)),
            json!({
                "reason": hold.reason.as_str(),
                "until": hold.until.to_rfc3339_opts(SecondsFormat::Millis, true),
            }),
            now,
        );
        let written = self
            .store
            .hold_vehicle(&plate, &hold, now, &audit)
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))?;
        self.freshness.caught_up(written.position).await;
        Ok(written.value)
    }

    /// Lifts a parked vehicle's hold; one past its retention expires at once. Audited.
    pub async fn lift_hold(&self, plate: &str, ctx: &AuditContext) -> Result<(), ServiceError> {
        let plate = lookup_plate(plate)?;
        let now = Utc::now();
        let audit = ctx.entry(
            AuditAction::VehicleHoldLifted,
            Some(self.pseudonyms.plate(&plate)),
            json!({}),
            now,
        );
        let lifted =
            self.store
                .lift_hold(&plate, now, &audit)
                .await?
                .ok_or(ServiceError::NotFound(
                    "no vehicle with this number plate is parked under a hold",
                ))?;
        self.freshness.caught_up(lifted.position).await;
        Ok(())
    }

    /// Every parked vehicle, oldest entry first, read page by page as the caller consumes
    /// them (vehicles as of the export's start; ones changed while it runs show as they are
    /// when their page is read). Audited before the first page is read.
    pub async fn export(
        &self,
        personal: bool,
        ctx: &AuditContext,
    ) -> Result<impl Stream<Item = Result<Vec<Vehicle>, ServiceError>> + Send + 'static, ServiceError>
    {
        let now = Utc::now();
        let audit = ctx.entry(
            AuditAction::VehiclesExported,
            None,
            json!({ "personal": personal }),
            now,
        );
        self.store.record_audit(&audit).await?;
        let start: Option<Option<VehicleCursor>> = Some(None);
        Ok(futures_util::stream::try_unfold(
            (self.store.clone(), start),
            move |(store, after)| async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let page = store.load_page(after, EXPORT_PAGE, now).await?;
                if page.is_empty() {
                    return Ok(None);
                }
                let next = (page.len() == EXPORT_PAGE as usize)
                    .then(|| page.last().map(VehicleCursor::after))
                    .flatten();
                Ok(Some((page, (store, next.map(Some)))))
            },
        ))
    }

    /// A page of at most `filter.limit` vehicles; the cursor points past its last one when
    /// more follow.
    pub async fn list(&self, mut filter: VehicleFilter) -> Result<VehiclePage, ServiceError> {
        let limit = filter.limit as usize;
        // One extra row tells whether another page exists without a COUNT.
        filter.limit += 1;
        // The index holds every live vehicle in entry order: no database round trip per page.
        let mut items = self.live.list(&filter);
        let next = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|v| VehicleCursor {
                entry_ms: v.entry_time.timestamp_millis(),
                id: v.id,
            })
        });
        Ok(VehiclePage {
            items,
            next: next.flatten(),
        })
    }

    pub async fn update(
        &self,
        plate: &str,
        contact_name: RawField<'_>,
        phone_number: RawField<'_>,
        ctx: &AuditContext,
    ) -> Result<Vehicle, ServiceError> {
        let plate = lookup_plate(plate)?;
        let changes = VehicleChanges::parse(contact_name, phone_number, self.region)?;
        let changed: Vec<&str> = [
            changes.contact_name.as_ref().map(|_| "contact_name"),
            changes.phone.as_ref().map(|_| "phone_number"),
        ]
        .into_iter()
        .flatten()
        .collect();
        let now = Utc::now();
        let audit = ctx.entry(
            AuditAction::VehicleUpdated,
            Some(self.pseudonyms.plate(&plate)),
            json!({ "changed": changed }),
            now,
        );
        let written = self
            .store
            .update_vehicle(&plate, &changes, now, &audit)
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))?;
        self.freshness.caught_up(written.position).await;
        Ok(written.value)
    }

    pub async fn remove(&self, plate: &str, ctx: &AuditContext) -> Result<(), ServiceError> {
        let plate = lookup_plate(plate)?;
        let now = Utc::now();
        let audit = ctx.entry(
            AuditAction::VehicleDeleted,
            Some(self.pseudonyms.plate(&plate)),
            json!({}),
            now,
        );
        let deleted = self
            .store
            .delete_vehicle(&plate, now, &audit)
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))?;
        self.freshness.caught_up(deleted.position).await;
        Ok(())
    }
}

/// A plate in a path is normalised like any other; one that cannot be a plate is simply not
/// parked here.
fn lookup_plate(raw: &str) -> Result<NumberPlate, ServiceError> {
    NumberPlate::parse(raw).map_err(|_| ServiceError::NotFound(NOT_FOUND))
}
