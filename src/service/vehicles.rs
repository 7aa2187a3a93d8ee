//! Registering, finding, changing and removing parked vehicles.

use std::sync::Arc;

use chrono::Utc;

use super::ServiceError;
use crate::{
    domain::{
        NewVehicle, NumberPlate, ParseContext, PhoneRegion, RawField, RawNewVehicle, Vehicle,
        VehicleChanges,
    },
    store::{Store, VehicleCursor, VehicleFilter},
};

const NOT_FOUND: &str = "no vehicle with this number plate is parked";

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
}

impl VehicleService {
    pub fn new(store: Arc<dyn Store>, region: PhoneRegion) -> Self {
        Self { store, region }
    }

    pub async fn register(&self, raw: RawNewVehicle<'_>) -> Result<Vehicle, ServiceError> {
        let now = Utc::now();
        let retention = self.store.retention().await?.period;
        let ctx = ParseContext {
            region: self.region,
            now,
            retention,
        };
        let vehicle = NewVehicle::parse(raw, ctx)?;
        Ok(self.store.insert_vehicle(&vehicle, now).await?)
    }

    pub async fn find(&self, plate: &str) -> Result<Vehicle, ServiceError> {
        let plate = lookup_plate(plate)?;
        self.store
            .find_vehicle(&plate, Utc::now())
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))
    }

    /// A page of at most `filter.limit` vehicles; the cursor points past its last one when
    /// more follow.
    pub async fn list(&self, mut filter: VehicleFilter) -> Result<VehiclePage, ServiceError> {
        let limit = filter.limit as usize;
        // One extra row tells whether another page exists without a COUNT.
        filter.limit += 1;
        let mut items = self.store.list_vehicles(&filter, Utc::now()).await?;
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
    ) -> Result<Vehicle, ServiceError> {
        let plate = lookup_plate(plate)?;
        let changes = VehicleChanges::parse(contact_name, phone_number, self.region)?;
        self.store
            .update_vehicle(&plate, &changes, Utc::now())
            .await?
            .ok_or(ServiceError::NotFound(NOT_FOUND))
    }

    pub async fn remove(&self, plate: &str) -> Result<(), ServiceError> {
        let plate = lookup_plate(plate)?;
        if self.store.delete_vehicle(&plate, Utc::now()).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(NOT_FOUND))
        }
    }
}

/// A plate in a path is normalised like any other; one that cannot be a plate is simply not
/// parked here.
fn lookup_plate(raw: &str) -> Result<NumberPlate, ServiceError> {
    NumberPlate::parse(raw).map_err(|_| ServiceError::NotFound(NOT_FOUND))
}
