//! [`InferenceError`]: why one `POST /v1/models/<name>/infer` request failed. It is core's
//! [`ApiError`] — the one table of codes, statuses, messages and headers that `tessera serve`
//! and the edge worker (`edge-worker/`) share — and [`respond`] turns it into an axum response
//! (`{"error": {"code", "message"}}` like every edge error), logging server-side failures.

use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderName, HeaderValue, StatusCode};
pub use tessera_core::api::ApiError as InferenceError;
use tessera_core::ErrorCode;

/// The HTTP response for `error`: its status, JSON body and headers from core's table.
pub(crate) fn respond(error: InferenceError) -> Response {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_server_error() {
        tracing::error!(code = error.code(), error = %error, "inference request failed");
    }
    let mut response = (status, Json(error.body())).into_response();
    let headers = response.headers_mut();
    for (name, value) in error.headers() {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.insert(name, value);
            }
            _ => tracing::error!(header = name, "unusable error header"),
        }
    }
    response
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::time::Duration;

    use http::header::{ALLOW, CACHE_CONTROL, CONNECTION, RETRY_AFTER, WWW_AUTHENTICATE};

    use super::*;

    #[test]
    fn responses_carry_core_table_status_and_headers() {
        let response = respond(InferenceError::RateLimited(Duration::from_millis(2500)));
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "3");
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        let response = respond(InferenceError::AuthExpired);
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[WWW_AUTHENTICATE],
            "Bearer realm=\"tessera\", error=\"invalid_token\""
        );
        let response = respond(InferenceError::MethodNotAllowed("GET".into()));
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "POST");
        let response = respond(InferenceError::Timeout(Duration::from_secs(5)));
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(response.headers()[CONNECTION], "close");
        assert_eq!(
            respond(InferenceError::Internal).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
