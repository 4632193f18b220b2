//! The inference engine: a small pool of dedicated OS threads, each with its own wonnx
//! sessions and a blocking executor, fed by a bounded channel. Async handlers submit a job and
//! await a oneshot reply, so the tokio runtime never blocks on the GPU (or on lavapipe, the
//! CPU Vulkan driver). The pool starts on the first job.
//!
//! wonnx panics in places (no adapter, unsupported graph parts) and wgpu panics on validation
//! errors, so each worker first probes for an adapter the way wonnx picks one
//! (`WGPU_BACKEND`, `WGPU_ADAPTER_NAME`), answering `inference-unavailable` without one, and
//! runs every wonnx call under `catch_unwind`: a panic fails that request (and drops the
//! session), never the server. A new session first runs the manifest's known-answer test
//! vectors and is refused (`model-self-test-failed`) if any answer is off by more than its
//! tolerance. Built without the `inference` feature, every worker is
//! unavailable. This module does not verify models: it only ever sees bytes that
//! [`crate::inference::model`] checked against a signed manifest.

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tessera_core::infer::InputTensor;
use tessera_core::manifest::Tensor;
use tokio::sync::oneshot;

use crate::inference::error::InferenceError;
use crate::inference::model::LoadedModel;

pub(crate) use backend::inspect;

#[cfg(feature = "inference")]
pub(crate) use tessera_onnx::ModelSignature;

/// Without the `inference` feature no model is ever inspected; this keeps the types compiling.
#[cfg(not(feature = "inference"))]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelSignature {
    /// Always empty.
    pub(crate) inputs: Vec<tessera_core::infer::TensorSpec>,
}

/// What one run produced.
#[derive(Debug)]
pub(crate) struct RunOutput {
    /// Outputs by name.
    pub(crate) outputs: BTreeMap<String, Tensor>,
    /// Time spent waiting for a worker.
    pub(crate) queue: Duration,
    /// Time spent running (excluding building a session).
    pub(crate) compute: Duration,
}

struct Job {
    model: Arc<LoadedModel>,
    inputs: BTreeMap<String, InputTensor>,
    enqueued: Instant,
    reply: oneshot::Sender<Result<RunOutput, InferenceError>>,
}

/// The worker pool (started on first use). Dropping it stops the workers and waits for them,
/// so no GPU device outlives the server (tearing down Mesa's Vulkan driver at process exit
/// while a worker still holds a device crashes the process).
#[derive(Debug)]
pub(crate) struct Engine {
    workers: usize,
    queue: usize,
    sender: OnceLock<SyncSender<Job>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Without a sender the workers' `recv` fails once the queue is empty, and they return.
        drop(self.sender.take());
        let threads = std::mem::take(
            self.threads
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for thread in threads {
            if thread.join().is_err() {
                tracing::error!("an inference worker thread panicked");
            }
        }
    }
}

impl Engine {
    /// A pool of `workers` threads (at least 1) with room for `queue` waiting jobs.
    pub(crate) fn new(workers: usize, queue: usize) -> Self {
        Self {
            workers: workers.max(1),
            queue: queue.max(1),
            sender: OnceLock::new(),
            threads: Mutex::new(Vec::new()),
        }
    }

    /// Runs `model` on `inputs` (already validated against its signature).
    pub(crate) async fn run(
        &self,
        model: Arc<LoadedModel>,
        inputs: BTreeMap<String, InputTensor>,
    ) -> Result<RunOutput, InferenceError> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            model,
            inputs,
            enqueued: Instant::now(),
            reply,
        };
        match self.sender().try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => return Err(InferenceError::Busy),
            Err(TrySendError::Disconnected(_)) => {
                return Err(InferenceError::Unavailable(
                    "the inference workers have stopped".into(),
                ))
            }
        }
        answer.await.unwrap_or_else(|_| {
            Err(InferenceError::Unavailable(
                "the inference worker stopped while running the request".into(),
            ))
        })
    }

    fn sender(&self) -> &SyncSender<Job> {
        self.sender.get_or_init(|| {
            let (sender, receiver) = mpsc::sync_channel(self.queue);
            let receiver = Arc::new(Mutex::new(receiver));
            for index in 0..self.workers {
                let receiver = Arc::clone(&receiver);
                let spawned = std::thread::Builder::new()
                    .name(format!("tessera-infer-{index}"))
                    .spawn(move || work(&receiver));
                match spawned {
                    Ok(thread) => self
                        .threads
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(thread),
                    // With no worker at all, jobs are refused as Disconnected above.
                    Err(e) => {
                        tracing::error!(error = %e, "cannot start an inference worker thread")
                    }
                }
            }
            sender
        })
    }
}

/// A worker's loop: until every sender is gone (the router was dropped).
fn work(receiver: &Mutex<Receiver<Job>>) {
    let mut worker = backend::Worker::start();
    if let Err(reason) = &worker {
        tracing::warn!(%reason, "inference is unavailable on this worker");
    }
    loop {
        // The lock is held only while waiting for the next job; a poisoned lock still holds a
        // valid receiver (nothing panics while holding it).
        let job = receiver
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
        let Ok(job) = job else { return };
        let queue = job.enqueued.elapsed();
        let result = match &mut worker {
            Ok(worker) => worker
                .run(&job.model, &job.inputs)
                .map(|(outputs, compute)| RunOutput {
                    outputs,
                    queue,
                    compute,
                }),
            Err(reason) => Err(InferenceError::Unavailable(reason.clone())),
        };
        // The client may have gone away; nothing to do then.
        let _ = job.reply.send(result);
    }
}

/// A panic payload as text.
#[cfg_attr(not(feature = "inference"), allow(dead_code))]
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(feature = "inference")]
mod backend {
    //! wonnx on wgpu.

    use std::borrow::Cow;
    use std::collections::{BTreeMap, HashMap};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::time::{Duration, Instant};

    use futures_executor::block_on;
    use tessera_core::infer::{InputTensor, TensorData};
    use tessera_core::layout::ModelName;
    use tessera_core::manifest::{Tensor, TestVector};
    use tessera_core::Sha256Digest;
    use wonnx::utils::OutputTensor;
    use wonnx::Session;

    use super::{panic_message, ModelSignature};
    use crate::inference::error::InferenceError;
    use crate::inference::model::LoadedModel;

    /// Reads a model's inputs and outputs from its ONNX graph.
    pub(crate) fn inspect(bytes: &[u8], model: &str) -> Result<ModelSignature, InferenceError> {
        tessera_onnx::inspect(bytes).map_err(|e| InferenceError::ModelUnsupported {
            model: model.to_owned(),
            detail: e.to_string(),
        })
    }

    /// One worker's sessions, keyed by model, each for one verified manifest (by the digest of
    /// its envelope bytes: a new manifest, even for the same file, gets a new, self-tested
    /// session).
    pub(crate) struct Worker {
        sessions: HashMap<ModelName, (Sha256Digest, Session)>,
        /// Manifests whose session could not be built or failed its self-test: not retried on
        /// every request (a build costs far more than a run), only when the manifest changes.
        broken: HashMap<ModelName, (Sha256Digest, BuildFailure)>,
    }

    /// Why a session was refused, kept to answer later requests for the same file.
    #[derive(Clone)]
    enum BuildFailure {
        Session(String),
        SelfTest { vector: String, detail: String },
    }

    impl BuildFailure {
        fn to_error(&self, model: &LoadedModel) -> InferenceError {
            let model = model.manifest.name.to_string();
            match self.clone() {
                Self::Session(detail) => InferenceError::SessionFailed { model, detail },
                Self::SelfTest { vector, detail } => InferenceError::SelfTestFailed {
                    model,
                    vector,
                    detail,
                },
            }
        }
    }

    impl Worker {
        /// Probes for a GPU adapter the way wonnx will pick one.
        pub(crate) fn start() -> Result<Self, String> {
            let probe = catch_unwind(|| {
                let backends =
                    wgpu::util::backend_bits_from_env().unwrap_or(wgpu::Backends::PRIMARY);
                let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                    backends,
                    dx12_shader_compiler: wgpu::Dx12Compiler::Fxc,
                });
                block_on(wgpu::util::initialize_adapter_from_env_or_default(
                    &instance, backends, None,
                ))
                .map(|adapter| adapter.get_info())
            });
            match probe {
                Ok(Some(info)) => {
                    tracing::info!(adapter = %info.name, backend = ?info.backend, device_type = ?info.device_type, "inference worker found a GPU adapter");
                    Ok(Self {
                        sessions: HashMap::new(),
                        broken: HashMap::new(),
                    })
                }
                Ok(None) => Err("no GPU adapter found (on a CPU-only machine install Mesa lavapipe: mesa-vulkan-drivers libvulkan1; check WGPU_BACKEND)".into()),
                Err(panic) => Err(format!("probing for a GPU adapter failed: {}", panic_message(&*panic))),
            }
        }

        /// Runs the model, building its session first if needed. Returns outputs and compute time.
        pub(crate) fn run(
            &mut self,
            model: &LoadedModel,
            inputs: &BTreeMap<String, InputTensor>,
        ) -> Result<(BTreeMap<String, Tensor>, Duration), InferenceError> {
            let name = &model.manifest.name;
            let stale = self
                .sessions
                .get(name)
                .is_none_or(|(digest, _)| *digest != model.envelope_digest);
            if stale {
                if let Some((_, failure)) = self
                    .broken
                    .get(name)
                    .filter(|(digest, _)| *digest == model.envelope_digest)
                {
                    return Err(failure.to_error(model));
                }
                // Drop the old session (and its device) before building the new one.
                self.sessions.remove(name);
                match build(model) {
                    Ok(session) => {
                        self.broken.remove(name);
                        self.sessions
                            .insert(name.clone(), (model.envelope_digest, session));
                    }
                    Err(failure) => {
                        let error = failure.to_error(model);
                        self.broken
                            .insert(name.clone(), (model.envelope_digest, failure));
                        return Err(error);
                    }
                }
            }
            let Some((_, session)) = self.sessions.get(name) else {
                return Err(run_failed(model, "no session".into()));
            };
            match execute(session, model, inputs) {
                Ok(done) => Ok(done),
                Err(Failure::Error(detail)) => Err(run_failed(model, detail)),
                Err(Failure::Panic(detail)) => {
                    // The device may be left in any state: never reuse it.
                    self.sessions.remove(name);
                    Err(run_failed(model, detail))
                }
            }
        }
    }

    /// Why a run failed: an error, or a panic (after which the session is dropped).
    enum Failure {
        Error(String),
        Panic(String),
    }

    fn run_failed(model: &LoadedModel, detail: String) -> InferenceError {
        InferenceError::RunFailed {
            model: model.manifest.name.to_string(),
            detail,
        }
    }

    /// Builds a session and runs the manifest's known-answer vectors on it: a session that
    /// computes wrong answers is never used (engines have failed silently before, e.g. shaders
    /// that compile to zeros).
    fn build(model: &LoadedModel) -> Result<Session, BuildFailure> {
        let name = &model.manifest.name;
        let started = Instant::now();
        let built = catch_unwind(AssertUnwindSafe(|| {
            block_on(Session::from_bytes(&model.bytes))
        }));
        let session = match built {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => return Err(BuildFailure::Session(e.to_string())),
            Err(panic) => {
                return Err(BuildFailure::Session(format!(
                    "the engine panicked: {}",
                    panic_message(&*panic)
                )))
            }
        };
        for vector in &model.manifest.test_vectors {
            self_test(&session, model, vector).map_err(|detail| BuildFailure::SelfTest {
                vector: vector.name.clone(),
                detail,
            })?;
        }
        tracing::info!(model = %name, version = %model.manifest.version, vectors = model.manifest.test_vectors.len(), elapsed = ?started.elapsed(), "inference session built and self-tested");
        Ok(session)
    }

    /// Runs one known-answer vector; `Err` says how the answer was wrong.
    fn self_test(
        session: &Session,
        model: &LoadedModel,
        vector: &TestVector,
    ) -> Result<(), String> {
        let inputs = tessera_core::selftest::request(vector)
            .validate(&model.signature.inputs)
            .map_err(|e| format!("its inputs do not fit the model: {e}"))?;
        let (outputs, _) = execute(session, model, &inputs).map_err(|f| match f {
            Failure::Error(detail) | Failure::Panic(detail) => detail,
        })?;
        tessera_core::selftest::compare(vector, &outputs).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// One run of a session: feeds the inputs, collects the declared outputs with their shapes.
    fn execute(
        session: &Session,
        model: &LoadedModel,
        inputs: &BTreeMap<String, InputTensor>,
    ) -> Result<(BTreeMap<String, Tensor>, Duration), Failure> {
        let feed = inputs
            .iter()
            .map(|(key, tensor)| Ok((key.clone(), to_wonnx(&tensor.data)?)))
            .collect::<Result<HashMap<_, _>, String>>()
            .map_err(Failure::Error)?;
        let started = Instant::now();
        let ran = catch_unwind(AssertUnwindSafe(|| block_on(session.run(&feed))));
        let compute = started.elapsed();
        let mut outputs = match ran {
            Ok(Ok(outputs)) => outputs,
            Ok(Err(e)) => return Err(Failure::Error(e.to_string())),
            Err(panic) => {
                return Err(Failure::Panic(format!(
                    "the engine panicked: {}",
                    panic_message(&*panic)
                )))
            }
        };
        let mut result = BTreeMap::new();
        for spec in &model.signature.outputs {
            let value = outputs.remove(&spec.name).ok_or_else(|| {
                Failure::Error(format!("output {:?} was not produced", spec.name))
            })?;
            let data = from_wonnx(value);
            let len = data.len() as u64;
            let shape = match &spec.shape {
                Some(shape) if shape.iter().product::<u64>() == len => shape.clone(),
                Some(shape) => {
                    return Err(Failure::Error(format!(
                        "output {:?} has {len} values, its declared shape {shape:?} calls for another count",
                        spec.name
                    )))
                }
                None => vec![len],
            };
            result.insert(spec.name.clone(), data.into_tensor(shape));
        }
        Ok((result, compute))
    }

    fn to_wonnx(data: &TensorData) -> Result<wonnx::utils::InputTensor<'_>, String> {
        Ok(match data {
            TensorData::Float32(v) => wonnx::utils::InputTensor::F32(Cow::Borrowed(v)),
            TensorData::Int32(v) => wonnx::utils::InputTensor::I32(Cow::Borrowed(v)),
            TensorData::Int64(v) => wonnx::utils::InputTensor::I64(Cow::Borrowed(v)),
            other => return Err(format!("{:?} inputs are not supported", other.dtype())),
        })
    }

    fn from_wonnx(value: OutputTensor) -> TensorData {
        match value {
            OutputTensor::F32(v) => TensorData::Float32(v),
            OutputTensor::I32(v) => TensorData::Int32(v),
            OutputTensor::I64(v) => TensorData::Int64(v),
            OutputTensor::U8(v) => TensorData::Int32(v.into_iter().map(i32::from).collect()),
        }
    }
}

#[cfg(not(feature = "inference"))]
mod backend {
    //! Built without an engine: every worker is unavailable.

    use std::collections::BTreeMap;
    use std::time::Duration;

    use tessera_core::infer::InputTensor;
    use tessera_core::manifest::Tensor;

    use super::ModelSignature;
    use crate::inference::error::InferenceError;
    use crate::inference::model::LoadedModel;

    const REASON: &str = "this server was built without the `inference` feature";

    pub(crate) fn inspect(_bytes: &[u8], _model: &str) -> Result<ModelSignature, InferenceError> {
        Err(InferenceError::Unavailable(REASON.into()))
    }

    pub(crate) struct Worker;

    impl Worker {
        pub(crate) fn start() -> Result<Self, String> {
            Err(REASON.into())
        }

        pub(crate) fn run(
            &mut self,
            _model: &LoadedModel,
            _inputs: &BTreeMap<String, InputTensor>,
        ) -> Result<(BTreeMap<String, Tensor>, Duration), InferenceError> {
            Err(InferenceError::Unavailable(REASON.into()))
        }
    }
}
