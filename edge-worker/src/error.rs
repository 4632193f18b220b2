//! [`WorkerError`]: why one request failed. It is core's [`ApiError`] — the edge API's one table
//! of codes, HTTP statuses, messages and headers, shared with `tessera serve` — so the worker
//! and the server cannot answer the same failure differently. The worker never produces the
//! server-only variants (`Busy`, `Timeout`, `Internal`): it has no queue, no read timeout, and a
//! trap in the engine aborts the isolate.

pub use tessera_core::api::{retry_after_secs, ApiError as WorkerError};
