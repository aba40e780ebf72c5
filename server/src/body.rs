//! Request bodies and query strings, read strictly: JSON only, every field known, every type as
//! GitLab documents it. What cannot be read is a 400 in Grape's shape (`{"error": "tag_name is
//! missing"}`), a body over `--max-body` a 413, and nothing reaches the rules.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{self, ApiError};

/// Parses a JSON request body as `T` (whose fields are GitLab's; unknown fields are refused, so a
/// misspelt parameter is never silently ignored). An empty body reads as `{}`.
pub fn json<T: DeserializeOwned>(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            error::message(StatusCode::PAYLOAD_TOO_LARGE, "413 Request Entity Too Large")
        } else {
            error::bad_request(format!("the request body could not be read: {e}"))
        }
    })?;
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
    if let Some(ct) = headers.get("content-type").and_then(|v| v.to_str().ok()) {
        if !ct.starts_with("application/json") && !bytes.is_empty() {
            return Err(ApiError(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                serde_json::json!({"error": format!("content type {ct} is not supported: send application/json")}),
            ));
        }
    }
    serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes)).map_err(|e| error::bad_request(describe(&e)))
}

/// A serde error as one line naming the parameter (`tag_name is invalid: …`, `name is missing`).
fn describe(e: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let inner = e.inner();
    let text = inner.to_string();
    let path = e.path().to_string();
    match inner.classify() {
        serde_json::error::Category::Syntax | serde_json::error::Category::Eof => format!("the body is not valid JSON: {text}"),
        _ => {
            let at = |field: &str| if path == "." { field.to_string() } else { format!("{path}.{field}") };
            if let Some(field) = text.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
                format!("{} is missing", at(field))
            } else if text.starts_with("unknown field `") {
                format!("{path} is not a parameter of this endpoint")
            } else {
                format!("{path} is invalid: {}", text.split(" at line ").next().unwrap_or(&text))
            }
        }
    }
}

/// A query string as name → value (the last value of a repeated name wins).
pub type Query = BTreeMap<String, String>;

/// A query parameter as a number at least 1, or the default.
pub fn positive(q: &Query, name: &str, default: u64) -> Result<u64, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(s) => s.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| error::bad_request(format!("{name} is invalid"))),
    }
}

/// A query parameter from a fixed set of values, or the default.
pub fn one_of(q: &Query, name: &str, values: &[&str], default: &str) -> Result<String, ApiError> {
    match q.get(name) {
        None => Ok(default.to_string()),
        Some(s) if values.contains(&s.as_str()) => Ok(s.clone()),
        Some(_) => Err(error::bad_request(format!("{name} does not have a valid value"))),
    }
}

/// A request's query string, or why it could not be read.
pub type QueryParams = Result<axum::extract::Query<Query>, axum::extract::rejection::QueryRejection>;

/// The query string as name → value, or 400.
pub fn params(q: QueryParams) -> Result<Query, ApiError> {
    q.map(|axum::extract::Query(p)| p).map_err(|e| error::bad_request(format!("the query string could not be read: {e}")))
}

/// The `as_of` parameter (relic's: a record count or an RFC 3339 time), if given.
pub fn as_of(q: QueryParams) -> Result<Option<String>, ApiError> {
    Ok(params(q)?.remove("as_of"))
}
