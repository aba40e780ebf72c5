//! GitLab's error responses: `{"message": …}` for what the API decided (`401 Unauthorized`,
//! `404 Project Not Found`, the rules' own texts such as `Release already exists` with their
//! status), `{"error": …}` for a request the API could not read (a missing or malformed parameter,
//! as Grape answers). Every failure of a request becomes one of these; nothing else is sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use relic_domain::service::ServiceError;
use relic_projector::views::ViewError;
use serde_json::{json, Value};

/// A GitLab-shaped error response.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub Value);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

/// `{"message": text}` with `status`.
pub fn message(status: StatusCode, text: &str) -> ApiError {
    ApiError(status, json!({ "message": text }))
}

/// 400 `{"error": text}`: the request's parameters could not be read (Grape's shape).
pub fn bad_request(text: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, json!({ "error": text.into() }))
}

pub fn unauthorized() -> ApiError {
    message(StatusCode::UNAUTHORIZED, "401 Unauthorized")
}

pub fn forbidden() -> ApiError {
    message(StatusCode::FORBIDDEN, "403 Forbidden")
}

/// `404 <what> Not Found`, or `404 Not Found` for an empty `what`.
pub fn not_found(what: &str) -> ApiError {
    let text = if what.is_empty() { "404 Not Found".to_string() } else { format!("404 {what} Not Found") };
    message(StatusCode::NOT_FOUND, &text)
}

/// A failure of the server itself: logged in full, answered with GitLab's 500 and the one line.
pub fn internal(what: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %what, "request failed");
    message(StatusCode::INTERNAL_SERVER_ERROR, &format!("500 Internal Server Error: {what}"))
}

impl From<relic_domain::decide::Refusal> for ApiError {
    fn from(r: relic_domain::decide::Refusal) -> Self {
        message(StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST), &r.message)
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Refused(r) => r.into(),
            other => internal(other),
        }
    }
}

impl From<ViewError> for ApiError {
    fn from(e: ViewError) -> Self {
        match e {
            ViewError::NotFound(_) => not_found(""),
            ViewError::Invalid(m) => bad_request(m),
            other => internal(other),
        }
    }
}
