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

/// Asks the browser not to evict this origin's storage; `true` when granted.
pub async fn persist() -> bool {
    let Ok(promise) = catch(manager().persist()) else {
        return false;
    };
    await_promise(promise)
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Whether the browser granted this origin persistent storage (`navigator.storage.persisted()`,
/// which asks nothing of the user); `false` when it cannot tell.
pub async fn persisted() -> bool {
    let Ok(promise) = catch(manager().persisted()) else {
        return false;
    };
    await_promise(promise)
        .await
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
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

/// Fails with `quota` when the shards still `missing` (less what is already staged of them)
/// do not fit in the storage left; else returns the bytes already staged of them (read once
/// here: on OPFS each lookup lists a shard's files).
pub async fn check_fits(store: &Store, model: &str, missing: &[ShardRef]) -> Result<u64, SwError> {
    let (mut staged, mut needed) = (0u64, 0u64);
    for shard in missing {
        let stored = store
            .partial(&shard.sha256)
            .await?
            .unwrap_or(0)
            .min(shard.size);
        staged += stored;
        needed = needed.saturating_add(shard.size - stored);
    }
    let Some(available) = available().await else {
        return Ok(staged);
    };
    if needed > available {
        return Err(SwError::Quota {
            model: model.to_owned(),
            needed,
            available,
        });
    }
    Ok(staged)
}
