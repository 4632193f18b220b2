//! Loading a model for inference: the signed `manifest.json` is verified against the server's
//! trusted keys with core's update policy (the one acceptance path the browser uses too), its
//! entry point ([`Manifest::entry`]) is assembled from its shards and checked with core's
//! [`FileAssembly`] (every shard, then the whole file), and only then is the graph inspected. A
//! graph whose weights live in external data files (`model.onnx` + `model.onnx_data`) gets the
//! files it names assembled and checked the same way, and is inlined into one self-contained
//! graph (`tessera_onnx::external`; refused above ONNX's 2 GiB protobuf limit before any data
//! file is read). Verified models are cached per model by the digest of the envelope bytes.
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

use tessera_core::assemble::{AssemblyError, FileAssembly};
use tessera_core::layout::{shard_path, ModelName};
use tessera_core::manifest::FileEntry;
use tessera_core::policy::{UpdateError, UpdatePolicy};
use tessera_core::{ErrorCode as _, Manifest, Sha256Digest};

use crate::inference::engine::{inspect, self_contained, ModelSignature};
use crate::inference::error::InferenceError;
use crate::manifest::read_small;
use crate::models::{is_not_found, Artifacts};

/// A verified model, ready for the engine.
#[derive(Debug)]
pub(crate) struct LoadedModel {
    /// The verified manifest.
    pub(crate) manifest: Manifest,
    /// SHA-256 of the `manifest.json` bytes it was verified from.
    pub(crate) envelope_digest: Sha256Digest,
    /// The ONNX file's bytes, checked against the manifest's sha256 for it (with its external
    /// data files, each checked too, inlined).
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
    /// The last manifest refused per model while a good version was kept: its digest and the
    /// refusal's code.
    refused: Mutex<HashMap<ModelName, (Sha256Digest, &'static str)>>,
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
                    self.lock_refused()
                        .insert(name.clone(), (digest, error.code()));
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
        let refused = self.lock_refused().get(name).map(|(d, _)| *d);
        let (Some(good), true) = (previous, refused.as_ref() == Some(digest)) else {
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
        let file = manifest
            .entry()
            .map_err(|e| refused(name, UpdateError::Manifest(e)))?
            .clone();
        let root = self.root.clone();
        let model_name = name.to_string();
        let job_file = file.clone();
        let files = manifest.files.clone();
        let (bytes, signature) = tokio::task::spawn_blocking(move || {
            let graph = assemble(&root, &model_name, &job_file)?;
            let signature = inspect(&graph, &model_name)?;
            // External data files the graph names, each read and verified like the entry.
            let bytes = self_contained(
                graph,
                &signature,
                &job_file,
                &files,
                &model_name,
                &mut |file| assemble(&root, &model_name, file),
            )?;
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

    /// The code of the newly published manifest refused for `name` while the verified version
    /// keeps answering (`None` when the published one is the one in use).
    pub(crate) fn refused_update(&self, name: &ModelName) -> Option<&'static str> {
        self.lock_refused().get(name).map(|(_, code)| *code)
    }

    fn lock_refused(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ModelName, (Sha256Digest, &'static str)>> {
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

/// Reads the file's shards in order, checking each shard's size and digest, then the whole
/// file's digest. Never returns bytes that do not match the manifest.
fn assemble(root: &Path, model: &str, file: &FileEntry) -> Result<Vec<u8>, InferenceError> {
    let capacity = usize::try_from(file.size).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    let mut assembly = FileAssembly::new(file);
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
        assembly
            .push_shard(&data)
            .map_err(|e| corrupt(model, file, &e))?;
        bytes.extend_from_slice(&data);
    }
    assembly.finish().map_err(|e| corrupt(model, file, &e))?;
    Ok(bytes)
}

/// The error for bytes that are not the file the manifest describes.
fn corrupt(model: &str, file: &FileEntry, error: &AssemblyError) -> InferenceError {
    match error.shard() {
        Some(shard) => InferenceError::ShardCorrupt {
            model: model.to_owned(),
            shard: shard.to_hex(),
        },
        None => InferenceError::FileCorrupt {
            model: model.to_owned(),
            path: file.path.to_string(),
        },
    }
}

#[cfg(all(test, feature = "inference"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use ed25519_dalek::SigningKey;
    use tessera_artifacts::{pack, PackInput, PackOptions};
    use tessera_core::hostile;
    use tessera_core::keys::TrustedKeys;

    use super::*;

    /// The hostile-manifest table every consumer is tested against: the edge refuses each case
    /// with its code, and where it had accepted a version first, keeps answering with that one.
    #[tokio::test]
    async fn the_hostile_table_is_refused_with_each_cases_code_and_kept_versions_keep_answering() {
        let trusted = SigningKey::from_bytes(&[11; 32]);
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let mut options = PackOptions::new("mlp".parse().unwrap(), "1.0.0".parse().unwrap());
        options.shard_size = 1024;
        let input = PackInput {
            path: "model.onnx".parse().unwrap(),
            source: Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlp.onnx"),
        };
        let packed = pack(&root, &[input], &options, &trusted, &mut |_| {}).unwrap();
        let table = hostile::cases(
            &packed.manifest,
            &trusted,
            &SigningKey::from_bytes(&[99; 32]),
            unix_now(),
            |case| format!("t-{case}").parse().unwrap(),
        )
        .unwrap();
        let mut keys = TrustedKeys::new();
        keys.insert(trusted.verifying_key());
        let store = ModelStore::new(root.clone(), UpdatePolicy::new(keys, 1));
        let publish = |model: &ModelName, envelope: &[u8]| {
            let path = root.join(tessera_core::layout::manifest_path(model));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, envelope).unwrap();
        };
        for case in &table {
            let kept = match &case.previous {
                Some(previous) => {
                    publish(&case.model, previous);
                    let loaded = store.get(&case.model).await.unwrap_or_else(|e| {
                        panic!("{}: the valid previous manifest is refused: {e}", case.case)
                    });
                    Some(loaded.manifest.version.clone())
                }
                None => None,
            };
            publish(&case.model, &case.offered);
            match (store.get(&case.model).await, kept) {
                (Err(error), None) => assert_eq!(error.code(), case.code, "{}", case.case),
                (Ok(model), Some(kept)) => {
                    assert_eq!(model.manifest.version, kept, "{}: kept version", case.case);
                    assert_eq!(
                        store.refused_update(&case.model),
                        Some(case.code),
                        "{}",
                        case.case
                    );
                }
                (other, kept) => panic!(
                    "{}: {:?} after accepting {kept:?}",
                    case.case,
                    other.map(|m| m.manifest.version.clone())
                ),
            }
        }
    }
}
