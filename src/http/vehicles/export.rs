//! `GET /api/v1/vehicles/export.csv`: every parked vehicle as CSV, streamed.

use axum::{
    body::Body,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::{
    app::AppState,
    domain::Vehicle,
    error::{ApiError, Problem},
    http::{auth::Admin, extract::RawQuery, query_params::QueryErrors},
};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `true` adds the contact name and phone number columns.
    #[param(value_type = Option<bool>, default = false)]
    pub personal: Option<String>,
}

/// Every parked vehicle, oldest entry first, as CSV (RFC 4180, UTF-8, a header row, CRLF line
/// ends): `number_plate,entry_timestamp,expires_at`, and with `?personal=true` also
/// `contact_name,phone_number`. Streamed page by page, so memory stays flat however many
/// vehicles are parked. Audited, with whether personal columns were included.
#[utoipa::path(get, path = "/api/v1/vehicles/export.csv", tag = "vehicles",
    params(ExportParams),
    responses(
        (status = 200, description = "The vehicles as CSV", content_type = "text/csv", body = String),
        (status = 400, description = "Malformed parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
pub async fn export_vehicles(
    State(state): State<AppState>,
    caller: Admin,
    RawQuery(params): RawQuery<ExportParams>,
) -> Result<Response, ApiError> {
    let mut errors = QueryErrors::default();
    let personal = match params.personal.as_deref().map(str::trim) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            errors.malformed("personal", "must be true or false");
            false
        }
    };
    errors.finish()?;
    let pages = state.vehicles.export(personal, &caller.audit()).await?;
    let header = Bytes::from(header_row(personal));
    let rows = pages.map(move |page| match page {
        Ok(page) => Ok(Bytes::from(rows(&page, personal))),
        Err(error) => {
            // The status line is gone already: the body is cut short, which the client sees.
            tracing::error!(%error, "the export stopped");
            Err(error)
        }
    });
    let body = Body::from_stream(stream::once(async { Ok(header) }).chain(rows));
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"vehicles.csv\"",
            ),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response())
}

fn header_row(personal: bool) -> Vec<u8> {
    let mut fields = vec!["number_plate", "entry_timestamp", "expires_at"];
    if personal {
        fields.extend(["contact_name", "phone_number"]);
    }
    write(|csv| csv.write_record(&fields))
}

fn rows(page: &[Vehicle], personal: bool) -> Vec<u8> {
    write(|csv| {
        for vehicle in page {
            let entry = super::dto::timestamp(&vehicle.entry_time);
            let expires = super::dto::timestamp(&vehicle.expires_at);
            let mut record = vec![vehicle.number_plate.as_str(), &entry, &expires];
            let name;
            if personal {
                name = spreadsheet_safe(&vehicle.contact_name);
                record.extend([name.as_str(), vehicle.phone_number.as_str()]);
            }
            csv.write_record(&record)?;
        }
        Ok(())
    })
}

/// Writes CSV into a buffer. Writing to memory cannot fail, so the result is the bytes.
fn write(fill: impl FnOnce(&mut csv::Writer<Vec<u8>>) -> csv::Result<()>) -> Vec<u8> {
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    let _ = fill(&mut csv);
    csv.into_inner().unwrap_or_default()
}

/// A name that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`) gets a leading `'`,
/// as OWASP advises for CSV files opened in spreadsheets; other names are written as given.
/// Plates and phone numbers cannot start that way except for the `+` of E.164 numbers, which
/// spreadsheets read as a number, not a formula.
fn spreadsheet_safe(name: &str) -> String {
    if name.starts_with(['=', '+', '-', '@']) {
        format!("'{name}")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_defused_and_fields_quoted() {
        assert_eq!(spreadsheet_safe("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(spreadsheet_safe("Ada"), "Ada");
        let out = write(|csv| csv.write_record(["a,b", "say \"hi\"", "x"]));
        assert_eq!(out, b"\"a,b\",\"say \"\"hi\"\"\",x\r\n");
    }
}
