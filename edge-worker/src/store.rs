//! Verified models kept in the isolate, loaded shard by shard by the JavaScript glue.
//!
//! The glue does the IO (KV or R2 reads); every decision is here and every check is core's:
//! the signed `manifest.json` goes through [`UpdatePolicy::evaluate`] (with the model accepted
//! before as `previous`), its entry point ([`Manifest::entry`]) is assembled with
//! [`FileAssembly`] (each shard's size and SHA-256 in the signed order, then the whole file),
//! the graph's signature is read with `tessera_onnx::inspect`, a tract session is built and every
//! known-answer vector of the manifest ([`tessera_core::selftest`]) must pass before the model
//! answers. Same rules as the edge server's `ModelStore`: a newly published manifest that is
//! refused never replaces a verified one, which keeps answering until it expires (and the answer
//! says so in `X-Tessera-Refused-Update`); the refused bytes are remembered so they are not
//! re-verified on every request.

use std::collections::HashMap;
use std::future::Future;
use std::task::{Context, Poll, Waker};

use tessera_core::assemble::{AssemblyError, FileAssembly};
use tessera_core::layout::ModelName;
use tessera_core::manifest::FileEntry;
use tessera_core::policy::{UpdateError, UpdatePolicy};
use tessera_core::{ErrorCode as _, Manifest, Sha256Digest};
use tessera_onnx::engine::{EngineError, EngineSession, InferenceEngine as _};
use tessera_onnx::ModelSignature;

use crate::error::WorkerError;
use tessera_onnx::tract::Tract;

use crate::TRACT_WASM;

/// A verified, self-tested model.
#[derive(Debug)]
pub struct Loaded {
    pub manifest: Manifest,
    pub envelope_digest: Sha256Digest,
    pub signature: ModelSignature,
    pub session: Box<dyn EngineSession>,
}

/// A manifest accepted by the policy whose file is being assembled.
#[derive(Debug)]
struct Pending {
    name: ModelName,
    manifest: Manifest,
    digest: Sha256Digest,
    file: FileEntry,
    assembly: FileAssembly,
    next: usize,
    bytes: Vec<u8>,
}

/// The models of one isolate.
#[derive(Debug)]
pub struct Store {
    policy: UpdatePolicy,
    engine: Tract,
    models: HashMap<ModelName, Loaded>,
    refused: HashMap<ModelName, (Sha256Digest, &'static str)>,
    pending: Option<Pending>,
    /// The outcome of the last load: `Err` when it failed and no verified version is kept.
    outcome: Result<(), WorkerError>,
}

/// Drives a future the engine made ready (tract's are): wasm32 has no threads to block on.
pub fn ready<T>(future: impl Future<Output = T>) -> Option<T> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => Some(value),
        Poll::Pending => None,
    }
}

impl Store {
    pub fn new(policy: UpdatePolicy) -> Self {
        Self {
            policy,
            engine: Tract::new(TRACT_WASM),
            models: HashMap::new(),
            refused: HashMap::new(),
            pending: None,
            outcome: Ok(()),
        }
    }

    /// Starts resolving `name` from its published `envelope` (`None`: no manifest in the store)
    /// at `now`: the shards (hex digests, in order) the glue must read and [`Self::shard`] in,
    /// empty when nothing needs loading (or loading already failed: see [`Self::model`]).
    pub fn begin(&mut self, name: &ModelName, envelope: Option<&[u8]>, now: u64) -> Vec<String> {
        self.pending = None;
        self.outcome = Ok(());
        let Some(envelope) = envelope else {
            self.outcome = Err(WorkerError::ModelNotFound(name.to_string()));
            return Vec::new();
        };
        let digest = Sha256Digest::of(envelope);
        let previous = self.models.get(name);
        if previous.is_some_and(|p| p.envelope_digest == digest) {
            return Vec::new();
        }
        if previous.is_some() && self.refused.get(name).map(|(d, _)| d) == Some(&digest) {
            return Vec::new();
        }
        let accepted =
            match self
                .policy
                .evaluate(name, previous.map(|p| &p.manifest), envelope, now)
            {
                Ok(accepted) => accepted,
                Err(e) => {
                    self.fail(name, digest, refused(name, e), now);
                    return Vec::new();
                }
            };
        let manifest = accepted.manifest;
        let file = match manifest.entry() {
            Ok(file) => file.clone(),
            Err(e) => {
                self.fail(name, digest, refused(name, UpdateError::Manifest(e)), now);
                return Vec::new();
            }
        };
        let shards = file.shards.iter().map(|s| s.sha256.to_hex()).collect();
        self.pending = Some(Pending {
            name: name.clone(),
            digest,
            assembly: FileAssembly::new(&file),
            bytes: Vec::with_capacity(usize::try_from(file.size).unwrap_or(0)),
            file,
            manifest,
            next: 0,
        });
        shards
    }

    /// The next shard's bytes (`None`: missing from the store). `false`: the load failed, read
    /// no more.
    pub fn shard(&mut self, bytes: Option<&[u8]>, now: u64) -> bool {
        let Some(pending) = self.pending.as_mut() else {
            return false;
        };
        let model = pending.name.to_string();
        let result = match bytes {
            None => Err(WorkerError::ShardMissing {
                shard: pending
                    .file
                    .shards
                    .get(pending.next)
                    .map(|s| s.sha256.to_hex())
                    .unwrap_or_default(),
                model,
            }),
            Some(bytes) => match pending.assembly.push_shard(bytes) {
                Ok(()) => {
                    pending.bytes.extend_from_slice(bytes);
                    pending.next += 1;
                    Ok(())
                }
                Err(e) => Err(corrupt(&model, &pending.file, &e)),
            },
        };
        match result {
            Ok(()) => true,
            Err(error) => {
                if let Some(p) = self.pending.take() {
                    self.fail(&p.name, p.digest, error, now);
                }
                false
            }
        }
    }

    /// Finishes the load: the whole file's check, the graph's signature, a session and its
    /// known-answer self-test.
    pub fn finish(&mut self, now: u64) {
        let Some(p) = self.pending.take() else {
            return;
        };
        let model = p.name.to_string();
        match self.verify_and_build(p.assembly, &p.file, &p.manifest, &p.bytes, &model) {
            Ok((signature, session)) => {
                self.refused.remove(&p.name);
                self.models.insert(
                    p.name,
                    Loaded {
                        manifest: p.manifest,
                        envelope_digest: p.digest,
                        signature,
                        session,
                    },
                );
            }
            Err(error) => self.fail(&p.name, p.digest, error, now),
        }
    }

    fn verify_and_build(
        &self,
        assembly: FileAssembly,
        file: &FileEntry,
        manifest: &Manifest,
        bytes: &[u8],
        model: &str,
    ) -> Result<(ModelSignature, Box<dyn EngineSession>), WorkerError> {
        assembly.finish().map_err(|e| corrupt(model, file, &e))?;
        let signature =
            tessera_onnx::inspect(bytes).map_err(|e| WorkerError::ModelUnsupported {
                model: model.to_owned(),
                detail: e.to_string(),
            })?;
        if !signature.external_files.is_empty() {
            // The worker assembles the entry point only; `tessera serve` and the browser
            // runtime inline external data (tessera_onnx::external).
            return Err(WorkerError::ModelUnsupported {
                model: model.to_owned(),
                detail: format!(
                    "its weights live in external data files {:?}; the edge worker loads self-contained graphs only",
                    signature.external_files
                ),
            });
        }
        let built = ready(self.engine.build(bytes, &signature)).unwrap_or_else(|| {
            Err(EngineError::Build(
                "the engine did not build synchronously".into(),
            ))
        });
        let mut session = built.map_err(|e| match e {
            EngineError::Unsupported(detail) => WorkerError::ModelUnsupported {
                model: model.to_owned(),
                detail,
            },
            other => WorkerError::SessionFailed {
                model: model.to_owned(),
                detail: other.to_string(),
            },
        })?;
        for vector in &manifest.test_vectors {
            let failed = |detail: String| WorkerError::SelfTestFailed {
                model: model.to_owned(),
                vector: vector.name.clone(),
                detail,
            };
            let inputs = tessera_core::selftest::request(vector)
                .validate(&signature.inputs)
                .map_err(|e| failed(format!("its inputs do not fit the model: {e}")))?;
            let outputs = ready(session.run(&inputs))
                .unwrap_or_else(|| Err(EngineError::Run("not synchronous".into())))
                .map_err(|e| failed(e.to_string()))?;
            let outputs = tessera_onnx::engine::json_outputs(outputs);
            tessera_core::selftest::compare(vector, &outputs).map_err(|e| failed(e.to_string()))?;
        }
        Ok((signature, session))
    }

    /// A load failed: a verified version that has not expired keeps answering (the refusal is
    /// remembered for `digest`); otherwise the request gets `error`.
    fn fail(&mut self, name: &ModelName, digest: Sha256Digest, error: WorkerError, now: u64) {
        match self.models.get(name) {
            Some(good) if now < good.manifest.expires_at => {
                self.refused.insert(name.clone(), (digest, error.code()));
            }
            _ => self.outcome = Err(error),
        }
    }

    /// The model to answer with after [`Self::begin`]…[`Self::finish`], checked for expiry.
    pub fn model(&mut self, name: &ModelName, now: u64) -> Result<&mut Loaded, WorkerError> {
        self.outcome.clone()?;
        let model = self
            .models
            .get_mut(name)
            .ok_or_else(|| WorkerError::ModelNotFound(name.to_string()))?;
        if now >= model.manifest.expires_at {
            return Err(refused(
                name,
                UpdateError::Expired {
                    name: name.clone(),
                    version: model.manifest.version.clone(),
                    expires_at: model.manifest.expires_at,
                    now,
                },
            ));
        }
        Ok(model)
    }

    /// The code of the newly published manifest refused while the verified one keeps answering.
    pub fn refused_update(&self, name: &ModelName) -> Option<&'static str> {
        self.refused.get(name).map(|(_, code)| *code)
    }
}

fn refused(name: &ModelName, source: UpdateError) -> WorkerError {
    WorkerError::ModelRefused {
        model: name.to_string(),
        source: Box::new(source),
    }
}

fn corrupt(model: &str, file: &FileEntry, error: &AssemblyError) -> WorkerError {
    match error.shard() {
        Some(shard) => WorkerError::ShardCorrupt {
            model: model.to_owned(),
            shard: shard.to_hex(),
        },
        None => WorkerError::FileCorrupt {
            model: model.to_owned(),
            path: file.path.to_string(),
        },
    }
}
