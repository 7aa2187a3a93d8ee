//! Why a use-case did not happen.

use crate::{domain::FieldErrors, store::StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input broke a rule; every failing field is listed.
    #[error("{}", .0.summary())]
    Invalid(FieldErrors),
    #[error("{0}")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(&'static str),
    /// Storage failed for a reason the client cannot fix.
    #[error(transparent)]
    Store(StoreError),
    /// A backup could not be written or verified, so the operation that needed it did not run.
    #[error("backup failed: {0}")]
    BackupFailed(StoreError),
    /// A backup asked for could not be written or verified.
    #[error("backup not written: {0}")]
    Backup(StoreError),
    /// The operating system could not supply randomness for a new key.
    #[error("random source failed: {0}")]
    Randomness(#[from] getrandom::Error),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::PlateTaken => {
                ServiceError::Conflict("a vehicle with this number plate is already parked")
            }
            other => ServiceError::Store(other),
        }
    }
}

impl From<FieldErrors> for ServiceError {
    fn from(errors: FieldErrors) -> Self {
        ServiceError::Invalid(errors)
    }
}
