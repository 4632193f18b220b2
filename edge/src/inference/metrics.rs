//! `GET /metrics`: Prometheus text exposition of the inference API's request counts and
//! latencies, labelled by model and outcome.
//!
//! `tessera_infer_engine_workers{engine}` says which engine the worker pool runs
//! (`tract-native`, `wonnx-wgpu`) and with how many workers, once the pool has started (on the
//! first inference request).
//!
//! `outcome` is `ok` or the error code (a small, fixed set). `model` is the model's name only
//! once it has been loaded and verified on this server, else `_other`, so requests for made-up
//! names cannot grow the label set without bound. Each router has its own registry (no process
//! globals); this module exports nothing about the artifact routes.

use std::time::Duration;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::HeaderValue;
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry,
};

use crate::inference::error::InferenceError;

/// The `model` label of requests for models not (yet) loaded.
pub(crate) const OTHER_MODEL: &str = "_other";

/// Latency buckets, seconds: 0.5 ms to 10 s.
const BUCKETS: &[f64] = &[
    0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The inference API's metrics.
#[derive(Debug, Clone)]
pub(crate) struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    engine: IntGaugeVec,
}

impl Metrics {
    pub(crate) fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "tessera_infer_requests_total",
                "Inference requests answered, by model and outcome (ok or error code).",
            ),
            &["model", "outcome"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "tessera_infer_request_duration_seconds",
                "Time from an inference request's arrival to its response, by model and outcome.",
            )
            .buckets(BUCKETS.to_vec()),
            &["model", "outcome"],
        )?;
        let engine = IntGaugeVec::new(
            Opts::new(
                "tessera_infer_engine_workers",
                "Inference workers by engine (tract-native, wonnx-wgpu); set when the pool starts.",
            ),
            &["engine"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(engine.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            engine,
        })
    }

    /// Records which engine the worker pool runs, with how many workers.
    pub(crate) fn engine_started(&self, engine: &str, workers: usize) {
        self.engine
            .with_label_values(&[engine])
            .set(i64::try_from(workers).unwrap_or(i64::MAX));
    }

    /// Records one answered request.
    pub(crate) fn observe(&self, model: &str, outcome: &str, elapsed: Duration) {
        let labels = [model, outcome];
        self.requests.with_label_values(&labels).inc();
        self.latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    fn render(&self) -> Result<Vec<u8>, prometheus::Error> {
        let mut body = Vec::new();
        prometheus::TextEncoder::new().encode(&self.registry.gather(), &mut body)?;
        Ok(body)
    }
}

/// Serves `GET /metrics`.
pub(crate) async fn serve(State(metrics): State<Metrics>) -> Response {
    match metrics.render() {
        Ok(body) => {
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static(prometheus::TEXT_FORMAT),
            );
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot render metrics");
            crate::inference::error::respond(InferenceError::Internal)
        }
    }
}
