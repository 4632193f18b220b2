//! Loading a model for inference: the signed `manifest.json` is verified against the server's
//! trusted keys with core's update policy, the `.onnx` file is assembled from its shards with
//! every shard and the whole file checked against the manifest's sha256, and only then is the
//! graph inspected. Verified models are cached per model by the digest of the envelope bytes.
//!
//! Every request re-reads the (small) `manifest.json`: if its bytes are unchanged, the cached
//! model is used (after re-checking expiry); if they changed, the new manifest goes through the
//! policy with the cached manifest as `previous`, so a swapped-in older version is refused as a
//! rollback (an intended downgrade needs a restart). Shards are verified when a manifest is
//! loaded, not on every request. A newly published manifest that is refused (bad signature,
//! rollback, expired, a corrupt or missing shard) never replaces a good model: the previously
//! verified version keeps answering until it expires, and the refused bytes are remembered so
//! they are not re-verified on every request (a warning is logged once per refused manifest).
//! Nothing here builds sessions: that is the engine's job, from the bytes verified here.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use tessera_core::layout::{shard_path, ModelName};
use tessera_core::manifest::FileEntry;
use tessera_core::policy::{UpdateError, UpdatePolicy};
use tessera_core::{ErrorCode as _, Manifest, Sha256Digest};

use crate::inference::engine::{inspect, ModelSignature};
use crate::inference::error::InferenceError;
use crate::manifest::read_small;
use crate::models::{is_not_found, Artifacts};

/// The model file used when a manifest lists several `.onnx` files.
const PREFERRED_FILE: &str = "model.onnx";

/// A verified model, ready for the engine.
#[derive(Debug)]
pub(crate) struct LoadedModel {
    /// The verified manifest.
    pub(crate) manifest: Manifest,
    /// SHA-256 of the `manifest.json` bytes it was verified from.
    pub(crate) envelope_digest: Sha256Digest,
    /// The ONNX file's bytes, checked against the manifest's sha256 for it.
    #[cfg_attr(not(feature = "inference"), allow(dead_code))]
    pub(crate) bytes: Arc<[u8]>,
    /// Inputs and outputs declared by the graph.
    pub(crate) signature: ModelSignature,
}

/// Verified models by name.
#[derive(Debug)]
pub(crate) struct ModelStore {
    artifacts: Arc<Artifacts>,
    root: PathBuf,
    policy: UpdatePolicy,
    cache: Mutex<HashMap<ModelName, Arc<LoadedModel>>>,
    /// Digest of the last manifest refused per model while a good version was kept.
    refused: Mutex<HashMap<ModelName, Sha256Digest>>,
    /// Serializes cache misses, so concurrent first requests verify a model once.
    load_lock: tokio::sync::Mutex<()>,
}

impl ModelStore {
    pub(crate) fn new(root: PathBuf, policy: UpdatePolicy) -> Self {
        Self {
            artifacts: Artifacts::new(root.clone()),
            root,
            policy,
            cache: Mutex::new(HashMap::new()),
            refused: Mutex::new(HashMap::new()),
            load_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Whether a model of this name has been verified and loaded (it may since have changed).
    pub(crate) fn is_loaded(&self, name: &str) -> bool {
        name.parse::<ModelName>()
            .is_ok_and(|name| self.cached(&name).is_some())
    }

    /// The model's current verified version, loading and verifying it if its manifest changed.
    pub(crate) async fn get(&self, name: &ModelName) -> Result<Arc<LoadedModel>, InferenceError> {
        let relative = tessera_core::layout::manifest_path(name);
        let envelope = read_small(&self.artifacts, &relative, name)
            .await
            .map_err(|_| InferenceError::Internal)?
            .ok_or_else(|| InferenceError::ModelNotFound(name.to_string()))?;
        let digest = Sha256Digest::of(&envelope);
        let now = unix_now();
        if let Some(hit) = self.fresh(name, &digest, now)? {
            return Ok(hit);
        }
        let _loading = self.load_lock.lock().await;
        if let Some(hit) = self.fresh(name, &digest, now)? {
            return Ok(hit);
        }
        let previous = self.cached(name);
        if let Some(kept) = self.kept(name, previous.as_ref(), &digest, now)? {
            return Ok(kept);
        }
        match self
            .verify(name, previous.as_ref(), &envelope, digest, now)
            .await
        {
            Ok(loaded) => Ok(loaded),
            Err(error) => match previous {
                Some(good) if now < good.manifest.expires_at => {
                    tracing::warn!(
                        model = %name,
                        kept = %good.manifest.version,
                        code = error.code(),
                        error = %error,
                        "newly published manifest refused; the verified version keeps answering"
                    );
                    self.lock_refused().insert(name.clone(), digest);
                    Ok(good)
                }
                _ => Err(error),
            },
        }
    }

    /// The previously verified model when `digest` is the manifest already refused for it
    /// (`Ok(None)` when there is none; the kept model's own expiry still applies).
    fn kept(
        &self,
        name: &ModelName,
        previous: Option<&Arc<LoadedModel>>,
        digest: &Sha256Digest,
        now: u64,
    ) -> Result<Option<Arc<LoadedModel>>, InferenceError> {
        let (Some(good), true) = (previous, self.lock_refused().get(name) == Some(digest)) else {
            return Ok(None);
        };
        self.fresh(name, &good.envelope_digest, now)
    }

    /// Verifies `envelope` against the policy (with `previous` as the last accepted manifest),
    /// assembles and checks its model file, and caches the result.
    async fn verify(
        &self,
        name: &ModelName,
        previous: Option<&Arc<LoadedModel>>,
        envelope: &[u8],
        digest: Sha256Digest,
        now: u64,
    ) -> Result<Arc<LoadedModel>, InferenceError> {
        let accepted = self
            .policy
            .evaluate(name, previous.map(|p| &p.manifest), envelope, now)
            .map_err(|source| refused(name, source))?;
        let manifest = accepted.manifest;
        let file = model_file(&manifest)
            .ok_or_else(|| InferenceError::ModelFileMissing(name.to_string()))?
            .clone();
        let root = self.root.clone();
        let model_name = name.to_string();
        let job_file = file.clone();
        let (bytes, signature) = tokio::task::spawn_blocking(move || {
            let bytes = assemble(&root, &model_name, &job_file)?;
            let signature = inspect(&bytes, &model_name)?;
            Ok::<_, InferenceError>((bytes, signature))
        })
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "model loading task failed");
            InferenceError::Internal
        })??;
        tracing::info!(model = %name, version = %manifest.version, file = %file.path, "model verified and loaded for inference");
        let loaded = Arc::new(LoadedModel {
            manifest,
            envelope_digest: digest,
            bytes: bytes.into(),
            signature,
        });
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.clone(), Arc::clone(&loaded));
        self.lock_refused().remove(name);
        Ok(loaded)
    }

    fn lock_refused(&self) -> std::sync::MutexGuard<'_, HashMap<ModelName, Sha256Digest>> {
        self.refused.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn cached(&self, name: &ModelName) -> Option<Arc<LoadedModel>> {
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    /// The cached model if it was verified from exactly these manifest bytes and has not
    /// expired since.
    fn fresh(
        &self,
        name: &ModelName,
        digest: &Sha256Digest,
        now: u64,
    ) -> Result<Option<Arc<LoadedModel>>, InferenceError> {
        let Some(hit) = self.cached(name).filter(|m| &m.envelope_digest == digest) else {
            return Ok(None);
        };
        if now >= hit.manifest.expires_at {
            return Err(refused(
                name,
                UpdateError::Expired {
                    name: name.clone(),
                    version: hit.manifest.version.clone(),
                    expires_at: hit.manifest.expires_at,
                    now,
                },
            ));
        }
        Ok(Some(hit))
    }
}

fn refused(name: &ModelName, source: UpdateError) -> InferenceError {
    InferenceError::ModelRefused {
        model: name.to_string(),
        source: Box::new(source),
    }
}

/// Seconds since the Unix epoch (0 before 1970).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The model's ONNX file: `model.onnx` if listed, else the first `.onnx` file.
fn model_file(manifest: &Manifest) -> Option<&FileEntry> {
    manifest.file(PREFERRED_FILE).or_else(|| {
        manifest
            .files
            .iter()
            .find(|f| f.path.as_str().ends_with(".onnx"))
    })
}

/// Reads the file's shards in order, checking each shard's size and digest, then the whole
/// file's digest. Never returns bytes that do not match the manifest.
fn assemble(root: &Path, model: &str, file: &FileEntry) -> Result<Vec<u8>, InferenceError> {
    let capacity = usize::try_from(file.size).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    for shard in &file.shards {
        let hex = shard.sha256.to_hex();
        let path = shard_path(&shard.sha256)
            .split('/')
            .fold(root.to_path_buf(), |path, segment| path.join(segment));
        let data = std::fs::read(&path).map_err(|e| {
            if is_not_found(&e) {
                InferenceError::ShardMissing {
                    model: model.to_owned(),
                    shard: hex.clone(),
                }
            } else {
                tracing::error!(shard = %hex, error = %e, "cannot read shard");
                InferenceError::Internal
            }
        })?;
        if data.len() as u64 != shard.size || Sha256Digest::of(&data) != shard.sha256 {
            return Err(InferenceError::ShardCorrupt {
                model: model.to_owned(),
                shard: hex,
            });
        }
        bytes.extend_from_slice(&data);
    }
    if bytes.len() as u64 != file.size || Sha256Digest::of(&bytes) != file.sha256 {
        return Err(InferenceError::FileCorrupt {
            model: model.to_owned(),
            path: file.path.to_string(),
        });
    }
    Ok(bytes)
}
