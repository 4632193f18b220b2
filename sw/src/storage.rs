//! Browser storage management: ask for persistent storage (`navigator.storage.persist()`) and,
//! before a download, compare the bytes still missing with `navigator.storage.estimate()` so a
//! download that cannot fit fails early with `quota`. It stores nothing itself.

use js_sys::Reflect;
use tessera_core::manifest::ShardRef;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{StorageManager, WorkerGlobalScope};

use crate::error::SwError;
use crate::js_error::{await_promise, catch};
use crate::store::Store;

fn manager() -> StorageManager {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    scope.navigator().storage()
}

/// The boolean a `StorageManager` promise resolves to; `false` when it fails or says nothing.
async fn flag(promise: Result<js_sys::Promise, crate::js_error::JsError>) -> bool {
    let Ok(promise) = promise else {
        return false;
    };
    await_promise(promise)
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Asks the browser not to evict this origin's storage; `true` when granted.
pub async fn persist() -> bool {
    flag(catch(manager().persist())).await
}

/// Whether the browser granted this origin persistent storage (`navigator.storage.persisted()`,
/// which asks nothing of the user); `false` when it cannot tell.
pub async fn persisted() -> bool {
    flag(catch(manager().persisted())).await
}

/// `(usage, quota)` of this origin in bytes, if the browser says (`navigator.storage.estimate()`).
pub async fn estimate() -> Option<(u64, u64)> {
    let estimate = await_promise(catch(manager().estimate()).ok()?)
        .await
        .ok()?;
    let number = |k: &str| {
        Reflect::get(&estimate, &JsValue::from_str(k))
            .ok()?
            .as_f64()
    };
    let quota = number("quota")?;
    let usage = number("usage").unwrap_or(0.0);
    Some((usage.max(0.0) as u64, quota.max(0.0) as u64))
}

/// Bytes this origin may still store, if the browser says.
pub async fn available() -> Option<u64> {
    let (usage, quota) = estimate().await?;
    Some(quota.saturating_sub(usage))
}

/// The bytes of `missing` already staged (kept from an interrupted download) and the bytes
/// still to download, read once (on OPFS each lookup lists a shard's files).
pub async fn staged_and_needed(store: &Store, missing: &[ShardRef]) -> Result<(u64, u64), SwError> {
    tessera_driver::install::staged_and_needed(store, missing).await
}

/// `quota` for `model`, with the browser's figures now: `needed` bytes do not fit, and
/// removing what the worker may remove would free `freeable`.
pub async fn quota_error(model: &str, needed: u64, freeable: u64) -> SwError {
    let (available, persisted) = futures_util::future::join(available(), persisted()).await;
    SwError::Quota {
        model: model.to_owned(),
        needed,
        available: available.unwrap_or(0),
        persisted,
        freeable,
    }
}

/// Fails with `quota` when the shards still `missing` (less what is already staged of them)
/// do not fit in the storage left; else returns the bytes already staged of them.
pub async fn check_fits(store: &Store, model: &str, missing: &[ShardRef]) -> Result<u64, SwError> {
    let (staged, needed) = staged_and_needed(store, missing).await?;
    match available().await {
        Some(available) if needed > available => Err(quota_error(model, needed, 0).await),
        _ => Ok(staged),
    }
}
