//! Browser test suites for tessera (no library code). `tests/service_worker.rs` runs the service
//! worker engine inside a real service worker in headless Chromium against a `tessera serve`;
//! `run.sh` packs the fixture, starts the server and runs it.
