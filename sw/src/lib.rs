//! tessera's service worker (placeholder until the service worker engine lands).
//!
//! It will intercept `/models/*`, verify signed manifests with `tessera-core`, download shards
//! with resumable Range requests into IndexedDB and serve verified bytes only. Today it only
//! pins the browser-side dependency set (web-sys 0.3.64, rexie 0.5, gloo 0.11) in Cargo.lock.
