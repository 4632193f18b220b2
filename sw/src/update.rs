//! Installing and updating a model: fetch `{artifactsBase}NAME/manifest.json`, judge it with
//! `UpdatePolicy::evaluate` against the last accepted manifest, store it as *pending*, download
//! the shards the store lacks (each verified against its signed digest before it becomes visible),
//! then switch active ← pending in one transaction and collect garbage. A file is exactly its
//! signed, ordered shards, so it is not hashed whole again (its sha256 stays in the manifest for
//! other consumers). The old version serves until the switch. Also the worker's entry points
//! for models: `ensure` (single flight), `check_update`, `resume_installs`, `status`, `remove`.
//! Policy, diffing and verification are `tessera-core`'s, the download and install sequences
//! `tessera-driver`'s (through `download`); this module chooses which install runs.

use std::rc::Rc;

use tessera_core::diff::missing_shards;
use tessera_core::layout::{LogicalPath, ModelName};
use tessera_core::manifest::ShardRef;
use tessera_core::policy::Acceptance;
use tessera_core::{Manifest, Sha256Digest};

use crate::accepted::{decode, fetch_and_judge};
use crate::engine::Engine;
use crate::engine::Flight;
use crate::error::SwError;
use crate::progress::{ModelStatus, State};
use crate::store::ModelRecord;
use crate::{download, gc, space};

/// Why an install/update runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Make the model servable: offline-first, the network only when something is missing.
    Ensure,
    /// Ask the server for a newer manifest and install it.
    CheckUpdate,
    /// Finish the whole-model install an earlier instance of this worker left unfinished
    /// (the stored pending version), without asking the server for a newer manifest.
    Resume,
}

/// The active manifest of `model`, installing it first if needed (single flight).
pub async fn ensure(engine: &Rc<Engine>, model: &ModelName) -> Result<Rc<Manifest>, SwError> {
    if let Some(m) = engine.ready_manifest(model.as_str()) {
        return Ok(m);
    }
    flight(engine, model, Mode::Ensure).await
}

/// Checks for a newer signed manifest and installs it (single flight with `ensure`).
pub async fn check_update(engine: &Rc<Engine>, model: &ModelName) -> Result<Rc<Manifest>, SwError> {
    flight(engine, model, Mode::CheckUpdate).await
}

/// Finishes every whole-model install an earlier instance of this worker left unfinished
/// (killed by the browser mid-download); resolves with how many it resumed once they end.
pub async fn resume_installs(engine: &Rc<Engine>) -> usize {
    let names = engine.store.model_names().await.unwrap_or_default();
    let mut installs = Vec::new();
    for name in names {
        let Ok(model) = name.parse::<ModelName>() else {
            continue;
        };
        let unfinished = engine
            .store
            .model(&name)
            .await
            .ok()
            .flatten()
            .is_some_and(|rec| rec.installing && rec.pending.is_some());
        if unfinished {
            installs.push(flight(engine, &model, Mode::Resume));
        }
    }
    let resumed = installs.len();
    // Failures are published as each model's status; there is no caller to tell.
    let _ = futures_util::future::join_all(installs).await;
    resumed
}

/// The install or update of `model` in this worker: the one running, or [`run`] in `mode`.
fn flight(engine: &Rc<Engine>, model: &ModelName, mode: Mode) -> Flight {
    engine.flight(model, move |engine, name| {
        Box::pin(async move { run(&engine, &name, mode).await })
    })
}

/// The status of `model`, from memory or (after a restart) from the store.
pub async fn status(engine: &Rc<Engine>, model: &ModelName) -> Result<ModelStatus, SwError> {
    if let Some(s) = engine.cached_status(model.as_str()) {
        return Ok(s);
    }
    stored_status(engine, model).await
}

/// Removes `model` and every shard no other model uses.
pub async fn remove(engine: &Rc<Engine>, model: &ModelName) -> Result<ModelStatus, SwError> {
    engine.store.delete_model(model.as_str()).await?;
    engine.forget_ready(model.as_str());
    engine.forget_use(model.as_str());
    gc::collect_garbage(engine).await?;
    let status = ModelStatus::new(model.as_str(), State::Absent);
    engine.publish(status.clone(), true);
    Ok(status)
}

/// Runs an install or update of `model`; returns the manifest now active.
pub async fn run(
    engine: &Rc<Engine>,
    model: &ModelName,
    mode: Mode,
) -> Result<Rc<Manifest>, SwError> {
    let name = model.as_str();
    // Shards whose bytes the browser cleared count as missing and are downloaded again.
    engine.store.forget_lost().await?;
    let rec = engine.store.model(name).await?.unwrap_or_default();
    let active = rec
        .active
        .as_deref()
        .map(|e| decode(engine, name, e))
        .transpose()?;
    if mode == Mode::Resume {
        if let Some(pending) = rec.pending.as_deref() {
            let manifest = decode(engine, name, pending)?;
            let old = active.as_ref().map(|m| m.version.to_string());
            let rec = ModelRecord {
                installing: true,
                ..rec.clone()
            };
            return install(engine, model, &rec, pending.to_owned(), manifest, old).await;
        }
    }
    if mode != Mode::CheckUpdate {
        if let Some(active) = active {
            // Re-download whatever of the active version went missing (eviction), offline-first.
            let envelope = rec.active.clone().unwrap_or_default();
            return install(engine, model, &rec, envelope, active, None).await;
        }
        if let Some(pending) = rec.pending.as_deref() {
            let manifest = decode(engine, name, pending)?;
            // From now on a restarted worker finishes this install by itself.
            let rec = ModelRecord {
                installing: true,
                ..rec.clone()
            };
            engine.store.put_model(name, &rec).await?;
            return install(engine, model, &rec, pending.to_owned(), manifest, None).await;
        }
    }
    engine.update_status(name, true, |s| {
        s.state = State::Checking;
        s.error = None;
    });
    let (envelope, accepted) = fetch_and_judge(engine, model, active.as_ref()).await?;
    let manifest = accepted.manifest;
    match accepted.kind {
        Acceptance::Refresh => {
            // Same content re-signed (e.g. a later expiry): keep it as the accepted manifest.
            let rec = ModelRecord {
                active: Some(envelope.clone()),
                pending: rec.pending.clone(),
                installing: rec.installing,
                last_used: None,
            };
            engine.store.put_model(name, &rec).await?;
            install(engine, model, &rec, envelope, manifest, None).await
        }
        _ => {
            let rec = ModelRecord {
                active: rec.active.clone(),
                pending: Some(envelope.clone()),
                installing: true,
                last_used: None,
            };
            engine.store.put_model(name, &rec).await?;
            let old = active.map(|m| m.version.to_string());
            install(engine, model, &rec, envelope, manifest, old).await
        }
    }
}

/// Downloads what `manifest` lacks, verifies every file and makes it the active version.
/// `old_version` is the version serving meanwhile (for status only).
async fn install(
    engine: &Rc<Engine>,
    model: &ModelName,
    rec: &ModelRecord,
    envelope: String,
    manifest: Manifest,
    old_version: Option<String>,
) -> Result<Rc<Manifest>, SwError> {
    let name = model.as_str();
    let is_switch = rec.active.as_deref() != Some(envelope.as_str());
    // The atomic switch: one write of the model record, once every shard is stored verified.
    let next = ModelRecord {
        active: Some(envelope),
        pending: None,
        installing: false,
        last_used: None,
    };
    let switch = is_switch.then(|| engine.store.put_model(name, &next));
    let downloaded = download::install_shards(engine, name, &manifest, old_version, switch).await?;
    let resumed = downloaded && engine.cached_status(name).is_some_and(|s| s.resumed);
    let manifest = Rc::new(manifest);
    engine.set_ready(name, manifest.clone());
    let mut status = ready_status(&manifest);
    status.resumed = resumed;
    engine.publish(status, true);
    Ok(manifest)
}

fn ready_status(m: &Manifest) -> ModelStatus {
    let mut s = ModelStatus::new(m.name.as_str(), State::Ready);
    s.version = Some(m.version.to_string());
    s.bytes_total = m.unique_shard_bytes();
    s.bytes_done = s.bytes_total;
    s.shards_total = m.unique_shards().len();
    s.shards_done = s.shards_total;
    s
}

/// Makes one file of `model` servable without downloading the rest of the model (a library
/// reading `config.json` first must not wait for the weights): the manifest to serve it from —
/// the active version when every shard of it is stored (the model is then ready), else the
/// active or pending version's, else a newly fetched one, judged by core's policy and kept as
/// pending — with that file's missing shards downloaded and verified.
/// `ensureModel` still installs the whole model and makes it active.
pub async fn ensure_file(
    engine: &Rc<Engine>,
    model: &ModelName,
    path: &LogicalPath,
) -> Result<Rc<Manifest>, SwError> {
    let name = model.as_str();
    let (rec, have) =
        futures_util::future::join(engine.store.model(name), engine.store.verified_shards()).await;
    let (rec, have) = (rec?.unwrap_or_default(), have?);
    let stored = |sha: &Sha256Digest| have.contains(&sha.to_hex());
    let manifest = match (rec.active.as_deref(), rec.pending.as_deref()) {
        (Some(active), _) => {
            let active = decode(engine, name, active)?;
            if missing_shards(&active, stored).is_empty() {
                let active = Rc::new(active);
                engine.set_ready(name, active.clone());
                return Ok(active);
            }
            active
        }
        (None, Some(pending)) => decode(engine, name, pending)?,
        (None, None) => {
            let (envelope, accepted) = fetch_and_judge(engine, model, None).await?;
            let rec = ModelRecord {
                active: None,
                pending: Some(envelope),
                installing: false,
                last_used: None,
            };
            engine.store.put_model(name, &rec).await?;
            accepted.manifest
        }
    };
    let file = manifest
        .file(path.as_str())
        .ok_or_else(|| SwError::FileNotFound {
            model: name.to_owned(),
            path: path.to_string(),
        })?
        .clone();
    let mut missing: Vec<ShardRef> = file
        .shards
        .iter()
        .filter(|s| !stored(&s.sha256))
        .copied()
        .collect();
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        space::fit(engine, name, &missing).await?;
        let total = manifest.unique_shard_bytes();
        let done: u64 = manifest
            .unique_shards()
            .iter()
            .filter(|s| stored(&s.sha256))
            .map(|s| s.size)
            .sum();
        let shards_total = manifest.unique_shards().len();
        download::fetch_with_quota_retry(engine, name, missing, done.min(total), shards_total)
            .await?;
    }
    Ok(Rc::new(manifest))
}

/// The status of `model` as the store shows it (after a worker restart).
pub async fn stored_status(engine: &Engine, model: &ModelName) -> Result<ModelStatus, SwError> {
    let name = model.as_str();
    let Some(rec) = engine.store.model(name).await? else {
        return Ok(ModelStatus::new(name, State::Absent));
    };
    let have = engine.store.verified_shards().await?;
    if let Some(active) = rec.active.as_deref() {
        let m = decode(engine, name, active)?;
        if missing_shards(&m, |sha| have.contains(&sha.to_hex())).is_empty() {
            let mut s = ready_status(&m);
            if let Some(p) = rec.pending.as_deref() {
                s.pending_version = Some(decode(engine, name, p)?.version.to_string());
            }
            return Ok(s);
        }
    }
    let mut s = ModelStatus::new(name, State::Absent);
    if let Some(p) = rec.pending.as_deref() {
        s.pending_version = Some(decode(engine, name, p)?.version.to_string());
    }
    Ok(s)
}
