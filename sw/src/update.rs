//! Installing and updating a model: fetch `{artifactsBase}NAME/manifest.json`, judge it with
//! `UpdatePolicy::evaluate` against the last accepted manifest, store it as *pending*, download
//! the shards the store lacks (each verified against its signed digest before it becomes visible),
//! then switch active ← pending in one transaction and collect garbage. A file is exactly its
//! signed, ordered shards, so it is not hashed whole again (its sha256 stays in the manifest for
//! other consumers). The old version serves until the switch. Policy,
//! diffing and verification are `tessera-core`'s; this module only sequences them.

use std::collections::BTreeSet;
use std::rc::Rc;

use tessera_core::diff::missing_shards;
use tessera_core::layout::{LogicalPath, ModelName};
use tessera_core::manifest::ShardRef;
use tessera_core::policy::Acceptance;
use tessera_core::{Manifest, Sha256Digest};

use crate::engine::Engine;
use crate::error::SwError;
use crate::progress::{ModelStatus, State};
use crate::store::ModelRecord;
use crate::{download, evict, storage};

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

/// A stored (already accepted) envelope's manifest, reopened by core's acceptance path:
/// signature and name checked again, no clock (expiry and rollback were judged at acceptance).
pub fn decode(engine: &Engine, model: &str, envelope: &str) -> Result<Manifest, SwError> {
    let _t = crate::timing::span("decode");
    let name: ModelName = model.parse()?;
    Ok(engine.config.policy().reopen(&name, envelope.as_bytes())?)
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

pub(crate) async fn fetch_and_judge(
    engine: &Engine,
    model: &ModelName,
    previous: Option<&Manifest>,
) -> Result<(String, tessera_core::policy::Accepted), SwError> {
    let url = engine.manifest_url(model);
    let fetched = engine.auth.get(&url, None).await?;
    match fetched.status {
        200 => {}
        404 => {
            return Err(SwError::ModelNotFound {
                model: model.to_string(),
                url,
            })
        }
        status => return Err(SwError::HttpStatus { url, status }),
    }
    // Core refuses an envelope over the cap (`manifest-too-large`); stop reading just past it.
    let bytes = fetched
        .bytes_up_to(tessera_core::limits::MAX_MANIFEST_BYTES)
        .await
        .map_err(|cause| SwError::Network {
            url: url.clone(),
            cause,
        })?;
    let now = (js_sys::Date::now() / 1000.0) as u64;
    let accepted = engine
        .config
        .policy()
        .evaluate(model, previous, &bytes, now)?;
    let envelope =
        String::from_utf8(bytes).map_err(|_| SwError::BadRequest(format!("{url} is not UTF-8")))?;
    Ok((envelope, accepted))
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
        fit(engine, name, &missing).await?;
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

/// Checks that the `missing` shards of `model` fit in the storage left; when they do not,
/// removes what the config lets the worker remove ([`evict::make_room`]) and checks again.
/// Returns the bytes of them already staged.
pub(crate) async fn fit(
    engine: &Rc<Engine>,
    model: &str,
    missing: &[ShardRef],
) -> Result<u64, SwError> {
    match storage::check_fits(&engine.store, model, missing).await {
        Err(SwError::Quota {
            needed, available, ..
        }) => {
            make_room(engine, model, needed.saturating_sub(available), needed).await?;
            storage::check_fits(&engine.store, model, missing).await
        }
        other => other,
    }
}

/// Frees `to_free` bytes for `model` or fails with `quota` (`needed`: the bytes its download
/// still lacks), removing nothing then.
pub(crate) async fn make_room(
    engine: &Rc<Engine>,
    model: &str,
    to_free: u64,
    needed: u64,
) -> Result<(), SwError> {
    match evict::make_room(engine, model, to_free).await? {
        Ok(()) => Ok(()),
        Err(freeable) => Err(storage::quota_error(model, needed, freeable).await),
    }
}

pub(crate) fn missing_shard(sha: &Sha256Digest) -> SwError {
    SwError::StoreCorrupt {
        what: format!("shard {sha}"),
    }
}

/// Deletes every stored shard that no model's active or pending manifest references, except
/// those a response is still streaming ([`tessera_driver::install::collect_garbage`]).
pub async fn collect_garbage(engine: &Engine) -> Result<usize, SwError> {
    download::collect_garbage(engine).await
}

/// Digests (hex) of every shard some model's active or pending manifest references.
pub(crate) async fn referenced_shards(engine: &Engine) -> Result<BTreeSet<String>, SwError> {
    let mut keep = BTreeSet::new();
    for name in engine.store.model_names().await? {
        let Some(rec) = engine.store.model(&name).await? else {
            continue;
        };
        for envelope in [rec.active, rec.pending].into_iter().flatten() {
            let m = decode(engine, &name, &envelope)?;
            keep.extend(m.unique_shards().iter().map(|s| s.sha256.to_hex()));
        }
    }
    Ok(keep)
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
