//! Pure, deterministic logic of tessera: the artifact format, its signing and update policy,
//! where an inference runs (the fallback state machine),
//! HTTP Range arithmetic and the resumable, verifying download plan.
//!
//! This crate does no IO: no network, no storage, no clock. Bytes, response heads and "now" are
//! arguments; decisions are return values (the quinn-proto / rustls "no IO" style). The service
//! worker (`tessera-sw`), the runtime, the CLI and the edge server are thin layers that feed it
//! and carry out what it decides. It builds for `wasm32-unknown-unknown` and natively, and
//! depends on no browser crate (`web-sys`, `js-sys`, `wasm-bindgen`); `cargo xtask test` checks that.
//!
//! Every failure area has one `#[non_exhaustive]` error enum whose variants carry a stable
//! [`ErrorCode::code`] string that pages, logs and tests switch on.

pub mod api;
pub mod assemble;
pub mod diff;
pub mod digest;
pub mod download;
pub mod dsse;
pub mod error;
pub mod fallback;
pub mod hostile;
pub mod housekeeping;
pub mod infer;
pub mod keys;
pub mod layout;
pub mod limits;
pub mod manifest;
pub mod policy;
pub mod range;
pub mod ratelimit;
pub mod selftest;
pub mod statement;
pub mod token;

pub use digest::Sha256Digest;
pub use error::ErrorCode;
pub use manifest::Manifest;
