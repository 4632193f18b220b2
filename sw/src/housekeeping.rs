//! The page's questions about storage: what is stored (`Tessera.storage()`: each stored model
//! version with the bytes only it holds, the bytes it shares, its last use) and what a download
//! would cost (`Tessera.estimate(name)`: bytes, bytes still missing, seconds at the speed this
//! worker measured). It reads the store and the browser's figures; the arithmetic is
//! `tessera_core::housekeeping`'s. It writes nothing.

use std::rc::Rc;

use serde::Serialize;
use tessera_core::diff::missing_shards;
use tessera_core::housekeeping::{eta_seconds, footprints};
use tessera_core::layout::ModelName;
use tessera_core::manifest::ShardRef;
use wasm_bindgen::JsValue;

use crate::accepted::{decode, fetch_and_judge};
use crate::engine::Engine;
use crate::error::SwError;
use crate::storage;

/// One stored version of a model, as `storage()` lists it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredModel {
    /// Model name.
    pub name: String,
    /// The version.
    pub version: String,
    /// `true` for the version being served; `false` for a version accepted and (partly)
    /// downloaded but not switched to yet.
    pub active: bool,
    /// Bytes of stored shards only this version uses: what removing it frees.
    pub bytes: u64,
    /// Bytes of stored shards it shares with other stored models or versions.
    pub shared_bytes: u64,
    /// Bytes of its shards not stored (a download not finished).
    pub missing_bytes: u64,
    /// When the worker last served a byte of the model, ms since the epoch (`null`: never).
    pub last_used: Option<u64>,
    /// Whether the browser granted this origin persistent storage.
    pub persisted: bool,
    /// Where the shards are: `opfs` or `indexeddb`.
    pub backend: &'static str,
}

/// The answer of `storage()`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageReport {
    /// Every stored model version (active ones first, by name).
    pub models: Vec<StoredModel>,
    /// Bytes of every distinct stored shard the listed versions use.
    pub bytes: u64,
    /// The origin's usage (`navigator.storage.estimate()`), if the browser says.
    pub usage: Option<u64>,
    /// The origin's quota, if the browser says.
    pub quota: Option<u64>,
    /// Whether the browser granted this origin persistent storage.
    pub persisted: bool,
    /// Where the shards are: `opfs` or `indexeddb`.
    pub backend: &'static str,
}

/// The answer of `estimate(name)`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Estimate {
    /// Model name.
    pub model: String,
    /// The version the estimate is for: the stored one (active, else pending), else the one
    /// the server publishes now.
    pub version: String,
    /// Bytes of the version (its distinct shards).
    pub bytes: u64,
    /// Bytes not stored yet (staged bytes of an interrupted download count as stored).
    pub missing: u64,
    /// `missing` ÷ the measured download speed, in whole seconds (0 when nothing is missing;
    /// `null` when no download was measured yet).
    pub eta_seconds: Option<u64>,
    /// The download speed the estimate uses (median of recent measurements), if any.
    pub bytes_per_second: Option<f64>,
    /// Bytes the origin may still store, if the browser says.
    pub available: Option<u64>,
}

fn to_js<T: Serialize>(value: &T) -> JsValue {
    let ser = serde_wasm_bindgen::Serializer::json_compatible();
    value.serialize(&ser).unwrap_or(JsValue::NULL)
}

/// One stored version of a model, as the store holds it (its signed manifest reopened).
#[derive(Debug)]
pub struct StoredVersion {
    /// Model name.
    pub name: String,
    /// The version.
    pub version: String,
    /// `true` for the active version, `false` for the pending one.
    pub active: bool,
    /// Its distinct shards.
    pub shards: Vec<ShardRef>,
    /// When the worker last served the model, ms since the epoch.
    pub last_used: Option<u64>,
}

/// Every stored model version (each model's active, then pending one), with its shards and
/// the model's last use: what `storage()` lists and what making room may remove.
pub async fn stored_versions(engine: &Engine) -> Result<Vec<StoredVersion>, SwError> {
    let store = &engine.store;
    let mut out = Vec::new();
    for name in store.model_names().await? {
        let Some(rec) = store.model(&name).await? else {
            continue;
        };
        let last_used = rec.last_used.max(engine.last_served(&name));
        for (envelope, active) in [(rec.active, true), (rec.pending, false)] {
            let Some(envelope) = envelope else { continue };
            let m = decode(engine, &name, &envelope)?;
            out.push(StoredVersion {
                name: name.clone(),
                version: m.version.to_string(),
                active,
                shards: m.unique_shards().into_iter().collect(),
                last_used,
            });
        }
    }
    Ok(out)
}

/// Every stored model version with its footprint and last use.
pub async fn storage(engine: &Rc<Engine>) -> Result<JsValue, SwError> {
    let store = &engine.store;
    let versions = stored_versions(engine).await?;
    let shards: Vec<Vec<ShardRef>> = versions.iter().map(|v| v.shards.clone()).collect();
    let have = store.verified_shards().await?;
    let (prints, bytes) = footprints(&shards, |sha| have.contains(&sha.to_hex()));
    let (persisted, estimate) =
        futures_util::future::join(storage::persisted(), storage::estimate()).await;
    let backend = store.bytes.kind();
    let mut models: Vec<StoredModel> = versions
        .into_iter()
        .zip(prints)
        .map(|(v, print)| StoredModel {
            name: v.name,
            version: v.version,
            active: v.active,
            bytes: print.bytes,
            shared_bytes: print.shared_bytes,
            missing_bytes: print.missing_bytes,
            last_used: v.last_used,
            persisted,
            backend,
        })
        .collect();
    models.sort_by(|a, b| (!a.active, &a.name).cmp(&(!b.active, &b.name)));
    Ok(to_js(&StorageReport {
        models,
        bytes,
        usage: estimate.map(|(usage, _)| usage),
        quota: estimate.map(|(_, quota)| quota),
        persisted,
        backend,
    }))
}

/// What installing `model` would download and how long that would take at the speed measured
/// so far. Reads the stored manifest (active, else pending); for a model not stored, fetches
/// the published manifest and judges it with the update policy (signature, expiry), without
/// storing it.
pub async fn estimate(engine: &Rc<Engine>, model: &ModelName) -> Result<JsValue, SwError> {
    let name = model.as_str();
    let store = &engine.store;
    let rec = store.model(name).await?.unwrap_or_default();
    let manifest = match rec.active.as_deref().or(rec.pending.as_deref()) {
        Some(envelope) => decode(engine, name, envelope)?,
        None => fetch_and_judge(engine, model, None).await?.1.manifest,
    };
    let have = store.verified_shards().await?;
    let mut missing = 0u64;
    for shard in missing_shards(&manifest, |sha| have.contains(&sha.to_hex())) {
        let staged = store.partial(&shard.sha256).await?.unwrap_or(0);
        missing = missing.saturating_add(shard.size.saturating_sub(staged));
    }
    let rate = engine.download_speed().await;
    let available = storage::available().await;
    Ok(to_js(&Estimate {
        model: name.to_owned(),
        version: manifest.version.to_string(),
        bytes: manifest.unique_shard_bytes(),
        missing,
        eta_seconds: eta_seconds(missing, rate),
        bytes_per_second: rate.map(f64::round),
        available,
    }))
}
