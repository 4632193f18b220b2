//! One record per request — method, path, `Range` header, status and body bytes actually sent —
//! as a `tracing` event and, when configured, a JSON line appended to a file:
//!
//! ```json
//! {"method":"GET","path":"/models/_shards/ab…","range":"bytes=0-99","status":206,"bytes":100}
//! ```
//!
//! The record is written when the response body is finished or dropped, so `bytes` counts what
//! was handed to the connection even when the client hung up mid-body (end-to-end tests use it
//! to assert how much a resumed download re-fetched). It does not rotate or buffer the file.

use std::fs::File;
use std::io::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::CONTENT_LENGTH;
use http::{HeaderValue, StatusCode};
use http_body_util::BodyExt as _;
use serde::Serialize;

use crate::error::EdgeError;

/// Where request records go besides `tracing`.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    file: Option<Mutex<File>>,
}

impl RequestLog {
    /// Logs to `tracing` and, if given, appends JSON lines to `path` (created if missing).
    pub(crate) fn open(path: Option<&Path>) -> Result<Arc<Self>, EdgeError> {
        let file = match path {
            None => None,
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|source| EdgeError::RequestLog {
                        path: path.to_owned(),
                        source,
                    })?;
                Some(Mutex::new(file))
            }
        };
        Ok(Arc::new(Self { file }))
    }

    fn write(&self, record: &Record) {
        tracing::info!(
            method = %record.method,
            path = %record.path,
            range = record.range.as_deref().unwrap_or("-"),
            status = record.status,
            bytes = record.bytes,
            "request"
        );
        let Some(file) = &self.file else { return };
        let Ok(mut line) = serde_json::to_vec(record) else {
            return;
        };
        line.push(b'\n');
        // A poisoned lock only means another writer panicked mid-line; keep logging.
        let mut file = file
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Err(e) = file.write_all(&line) {
            tracing::warn!(error = %e, "cannot append to the request log");
        }
    }
}

/// One request's record.
#[derive(Debug, Serialize)]
struct Record {
    method: String,
    path: String,
    range: Option<String>,
    status: u16,
    bytes: u64,
}

/// Writes the record when dropped (with the body that carries it).
#[derive(Debug)]
struct Pending {
    log: Arc<RequestLog>,
    record: Option<Record>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            self.log.write(&record);
        }
    }
}

/// Middleware: records the request and counts the body bytes of its response.
pub(crate) async fn record(
    State(log): State<Arc<RequestLog>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let range = request
        .headers()
        .get(http::header::RANGE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let mut response = next.run(request).await;
    keep_content_length(&mut response);
    let mut pending = Pending {
        log,
        record: Some(Record {
            method,
            path,
            range,
            status: response.status().as_u16(),
            bytes: 0,
        }),
    };
    response.map(|body| {
        let body = body.map_frame(move |frame| {
            if let (Some(data), Some(record)) = (frame.data_ref(), pending.record.as_mut()) {
                record.bytes += data.len() as u64;
            }
            frame
        });
        Body::new(body)
    })
}

/// The counting wrapper hides the body's exact size from axum, which would otherwise derive
/// `Content-Length` from it: state it first (not for statuses that carry no body).
fn keep_content_length(response: &mut Response) {
    use axum::body::HttpBody as _;
    let status = response.status();
    let bodiless = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if bodiless || response.headers().contains_key(CONTENT_LENGTH) {
        return;
    }
    if let Some(length) = response.body().size_hint().exact() {
        response
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from(length));
    }
}
