//! The inference worker pool: dedicated OS threads, each with its own engine and sessions (see
//! [`crate::inference::engines`]: tract on the CPU, or wonnx on wgpu), fed by a bounded channel.
//! Async handlers submit a job and await a oneshot reply, so the tokio runtime never blocks on
//! an inference. The pool starts on the first job: a starter thread resolves the configured
//! [`EngineChoice`] (probing wgpu for `auto`), sizes the pool (one worker per core for tract,
//! one for wonnx, unless configured) and spawns the workers; jobs queue meanwhile.
//!
//! Everything here applies to every engine: engines panic in places (wonnx on unsupported graph
//! parts, wgpu on validation errors), so every build and run is under `catch_unwind`: a panic
//! fails that request (and drops the session), never the server. A new session first runs the
//! manifest's known-answer test vectors and is refused (`model-self-test-failed`) if any answer
//! is off by more than its tolerance. Built without the `inference` feature, every worker is
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

use crate::inference::engines::{EngineChoice, EngineKind};
use crate::inference::error::InferenceError;
use crate::inference::metrics::Metrics;
use crate::inference::model::LoadedModel;

pub(crate) use backend::{inspect, self_contained};

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
    /// The engine that computed them (`"tract-native"`, `"wonnx-wgpu"`).
    pub(crate) engine: &'static str,
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

type Threads = Arc<Mutex<Vec<JoinHandle<()>>>>;

/// The worker pool (started on first use). Dropping it stops the workers and waits for them,
/// so no GPU device outlives the server (tearing down Mesa's Vulkan driver at process exit
/// while a worker still holds a device crashes the process).
#[derive(Debug)]
pub(crate) struct Engine {
    /// Configured workers; 0: the engine's default ([`EngineKind::default_workers`]).
    workers: usize,
    queue: usize,
    choice: EngineChoice,
    metrics: Metrics,
    sender: OnceLock<SyncSender<Job>>,
    threads: Threads,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Without a sender the workers' `recv` fails once the queue is empty, and they return.
        drop(self.sender.take());
        // The starter thread adds the workers' handles before it ends: join until none is left.
        loop {
            let threads =
                std::mem::take(&mut *self.threads.lock().unwrap_or_else(PoisonError::into_inner));
            if threads.is_empty() {
                break;
            }
            for thread in threads {
                if thread.join().is_err() {
                    tracing::error!("an inference thread panicked");
                }
            }
        }
    }
}

impl Engine {
    /// A pool running `choice` with `workers` threads (0: the engine's default) and room for
    /// `queue` waiting jobs.
    pub(crate) fn new(
        workers: usize,
        queue: usize,
        choice: EngineChoice,
        metrics: Metrics,
    ) -> Self {
        Self {
            workers,
            queue: queue.max(1),
            choice,
            metrics,
            sender: OnceLock::new(),
            threads: Arc::new(Mutex::new(Vec::new())),
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
            let (choice, workers) = (self.choice, self.workers);
            let (threads, metrics) = (Arc::clone(&self.threads), self.metrics.clone());
            let spawned = std::thread::Builder::new()
                .name("tessera-infer-start".into())
                .spawn(move || start(choice, workers, &receiver, &threads, &metrics));
            match spawned {
                Ok(thread) => self
                    .threads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(thread),
                // The receiver is gone with the closure: jobs are refused as Disconnected above.
                Err(e) => tracing::error!(error = %e, "cannot start the inference pool"),
            }
            sender
        })
    }
}

/// The starter thread: resolves the engine, sizes the pool and spawns the workers.
fn start(
    choice: EngineChoice,
    workers: usize,
    receiver: &Arc<Mutex<Receiver<Job>>>,
    threads: &Mutex<Vec<JoinHandle<()>>>,
    metrics: &Metrics,
) {
    let kind = EngineKind::resolve(choice);
    let workers = if workers == 0 {
        kind.default_workers()
    } else {
        workers
    };
    tracing::info!(engine = kind.name(), %choice, workers, "starting the inference workers");
    metrics.engine_started(kind.name(), workers);
    for index in 0..workers {
        let receiver = Arc::clone(receiver);
        let spawned = std::thread::Builder::new()
            .name(format!("tessera-infer-{index}"))
            .spawn(move || work(kind, &receiver));
        match spawned {
            Ok(thread) => threads
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(thread),
            // With no worker at all the receiver is dropped when this thread ends, and jobs are
            // refused as Disconnected.
            Err(e) => tracing::error!(error = %e, "cannot start an inference worker thread"),
        }
    }
}

/// A worker's loop: until every sender is gone (the router was dropped).
fn work(kind: EngineKind, receiver: &Mutex<Receiver<Job>>) {
    let mut worker = backend::Worker::start(kind);
    if let Err(reason) = &worker {
        tracing::warn!(%reason, engine = kind.name(), "inference is unavailable on this worker");
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
                    engine: kind.name(),
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
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_owned())
}

#[cfg(feature = "inference")]
mod backend {
    //! One worker's engine and sessions, for any engine behind `tessera_onnx::engine`.

    use std::collections::{BTreeMap, HashMap};
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::time::{Duration, Instant};

    use futures_executor::block_on;
    use tessera_core::infer::InputTensor;
    use tessera_core::layout::ModelName;
    use tessera_core::manifest::{FileEntry, Tensor, TestVector};
    use tessera_core::{ErrorCode as _, Sha256Digest};
    use tessera_onnx::engine::{EngineError, EngineSession, InferenceEngine};
    use tessera_onnx::external;

    use super::{panic_message, ModelSignature};
    use crate::inference::engines::{wonnx::Wonnx, EngineKind, TRACT_NATIVE};
    use crate::inference::error::InferenceError;
    use crate::inference::model::LoadedModel;
    use tessera_onnx::tract::Tract;

    /// Reads a model's inputs and outputs from its ONNX graph.
    pub(crate) fn inspect(bytes: &[u8], model: &str) -> Result<ModelSignature, InferenceError> {
        tessera_onnx::inspect(bytes).map_err(|e| unsupported(model, &e))
    }

    /// The graph of entry `entry` made self-contained when `signature` names external data
    /// files: they are checked against the manifest's `files` (before any is read), each is read
    /// with `read` (the caller's verified path) and the graph is inlined
    /// ([`tessera_onnx::external`]). A self-contained graph comes back as it is.
    pub(crate) fn self_contained(
        graph: Vec<u8>,
        signature: &ModelSignature,
        entry: &FileEntry,
        files: &[FileEntry],
        model: &str,
        read: &mut dyn FnMut(&FileEntry) -> Result<Vec<u8>, InferenceError>,
    ) -> Result<Vec<u8>, InferenceError> {
        if signature.external_files.is_empty() {
            return Ok(graph);
        }
        let plan = external::plan(&graph, entry, files).map_err(|e| unsupported(model, &e))?;
        let mut data = Vec::with_capacity(plan.files.len());
        for (location, file) in &plan.files {
            data.push((location.as_str(), read(file)?));
        }
        external::inline_fetched(&graph, &data).map_err(|e| unsupported(model, &e))
    }

    /// The edge's error for a graph it cannot use, keeping the ONNX reader's code in the text.
    fn unsupported(model: &str, error: &tessera_onnx::SignatureError) -> InferenceError {
        InferenceError::ModelUnsupported {
            model: model.to_owned(),
            detail: format!("{error} ({})", error.code()),
        }
    }

    /// One worker's engine and sessions, keyed by model, each for one verified manifest (by the
    /// digest of its envelope bytes: a new manifest, even for the same file, gets a new,
    /// self-tested session).
    pub(crate) struct Worker {
        engine: Box<dyn InferenceEngine>,
        sessions: HashMap<ModelName, (Sha256Digest, Box<dyn EngineSession>)>,
        /// Manifests whose session could not be built or failed its self-test: not retried on
        /// every request (a build costs far more than a run), only when the manifest changes.
        broken: HashMap<ModelName, (Sha256Digest, BuildFailure)>,
    }

    /// Why a session was refused, kept to answer later requests for the same file.
    #[derive(Clone)]
    enum BuildFailure {
        Engine(EngineError),
        Panic(String),
        SelfTest { vector: String, detail: String },
    }

    impl BuildFailure {
        fn to_error(&self, model: &LoadedModel) -> InferenceError {
            let model = model.manifest.name.to_string();
            match self.clone() {
                Self::Engine(EngineError::Unavailable(detail)) => {
                    InferenceError::Unavailable(detail)
                }
                Self::Engine(EngineError::Unsupported(detail)) => {
                    InferenceError::ModelUnsupported { model, detail }
                }
                Self::Engine(e) => InferenceError::SessionFailed {
                    model,
                    detail: e.to_string(),
                },
                Self::Panic(detail) => InferenceError::SessionFailed { model, detail },
                Self::SelfTest { vector, detail } => InferenceError::SelfTestFailed {
                    model,
                    vector,
                    detail,
                },
            }
        }
    }

    impl Worker {
        /// Starts `kind`'s engine (wonnx probes for a GPU adapter the way it will pick one).
        pub(crate) fn start(kind: EngineKind) -> Result<Self, String> {
            let engine: Box<dyn InferenceEngine> = match kind {
                EngineKind::Tract => Box::new(Tract::new(TRACT_NATIVE)),
                EngineKind::Wonnx => Box::new(Wonnx::start().map_err(|e| match e {
                    EngineError::Unavailable(reason) => reason,
                    other => other.to_string(),
                })?),
            };
            Ok(Self {
                engine,
                sessions: HashMap::new(),
                broken: HashMap::new(),
            })
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
                match build(&*self.engine, model) {
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
            let Some((_, session)) = self.sessions.get_mut(name) else {
                return Err(run_failed(model, "no session".into()));
            };
            match execute(&mut **session, inputs) {
                Ok(done) => Ok(done),
                Err(Failure::Error(detail)) => Err(run_failed(model, detail)),
                Err(Failure::Panic(detail)) => {
                    // The session (a device, a plan's state) may be left in any state: never
                    // reuse it.
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
    fn build(
        engine: &dyn InferenceEngine,
        model: &LoadedModel,
    ) -> Result<Box<dyn EngineSession>, BuildFailure> {
        let name = &model.manifest.name;
        let started = Instant::now();
        let built = catch_unwind(AssertUnwindSafe(|| {
            block_on(engine.build(&model.bytes, &model.signature))
        }));
        let mut session = match built {
            Ok(Ok(session)) => session,
            Ok(Err(e)) => return Err(BuildFailure::Engine(e)),
            Err(panic) => {
                return Err(BuildFailure::Panic(format!(
                    "the engine panicked: {}",
                    panic_message(&*panic)
                )))
            }
        };
        for vector in &model.manifest.test_vectors {
            self_test(&mut *session, model, vector).map_err(|detail| BuildFailure::SelfTest {
                vector: vector.name.clone(),
                detail,
            })?;
        }
        tracing::info!(model = %name, version = %model.manifest.version, engine = engine.name(), vectors = model.manifest.test_vectors.len(), elapsed = ?started.elapsed(), "inference session built and self-tested");
        Ok(session)
    }

    /// Runs one known-answer vector; `Err` says how the answer was wrong.
    fn self_test(
        session: &mut dyn EngineSession,
        model: &LoadedModel,
        vector: &TestVector,
    ) -> Result<(), String> {
        let inputs = tessera_core::selftest::request(vector)
            .validate(&model.signature.inputs)
            .map_err(|e| format!("its inputs do not fit the model: {e}"))?;
        let (outputs, _) = execute(session, &inputs).map_err(|f| match f {
            Failure::Error(detail) | Failure::Panic(detail) => detail,
        })?;
        tessera_core::selftest::compare(vector, &outputs).map_err(|e| e.to_string())?;
        Ok(())
    }

    /// One run of a session, under the panic guard, timed; outputs in the JSON form the edge
    /// answers with (int64 beyond ±2^53 as the nearest double: JSON numbers).
    fn execute(
        session: &mut dyn EngineSession,
        inputs: &BTreeMap<String, InputTensor>,
    ) -> Result<(BTreeMap<String, Tensor>, Duration), Failure> {
        let started = Instant::now();
        let ran = catch_unwind(AssertUnwindSafe(|| block_on(session.run(inputs))));
        let compute = started.elapsed();
        match ran {
            Ok(Ok(outputs)) => Ok((tessera_onnx::engine::json_outputs(outputs), compute)),
            Ok(Err(e)) => Err(Failure::Error(e.to_string())),
            Err(panic) => Err(Failure::Panic(format!(
                "the engine panicked: {}",
                panic_message(&*panic)
            ))),
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
    use crate::inference::engines::EngineKind;
    use crate::inference::error::InferenceError;
    use crate::inference::model::LoadedModel;

    const REASON: &str = "this server was built without the `inference` feature";

    pub(crate) fn inspect(_bytes: &[u8], _model: &str) -> Result<ModelSignature, InferenceError> {
        Err(InferenceError::Unavailable(REASON.into()))
    }

    pub(crate) fn self_contained(
        _graph: Vec<u8>,
        _signature: &ModelSignature,
        _entry: &tessera_core::manifest::FileEntry,
        _files: &[tessera_core::manifest::FileEntry],
        _model: &str,
        _read: &mut dyn FnMut(
            &tessera_core::manifest::FileEntry,
        ) -> Result<Vec<u8>, InferenceError>,
    ) -> Result<Vec<u8>, InferenceError> {
        Err(InferenceError::Unavailable(REASON.into()))
    }

    pub(crate) struct Worker;

    impl Worker {
        pub(crate) fn start(_kind: EngineKind) -> Result<Self, String> {
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
