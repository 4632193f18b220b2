//! The inference runtime inside a real dedicated worker (headless Chromium) against a real
//! `tessera serve`: the WebGPU capability check, and a verified load of the edge's MLP fixture
//! (signed manifest, every shard and the whole file checked), its known-answer self-test and one
//! inference compared with the numpy reference. `run.sh` packs the fixture, passes
//! `TESSERA_TEST_BASE` and `TESSERA_TEST_KEY`, and starts Chromium with
//! `--enable-unsafe-webgpu` (SwiftShader) through `WASM_BINDGEN_TEST_WEBDRIVER_JSON` unless
//! `TESSERA_TEST_WEBGPU=0`; without WebGPU the same tests expect `no-adapter`. The WebGPU engine
//! (`tessera-runtime-webgpu`) is linked into this test's wasm and handed to the runtime as the
//! worker script hands over its module ([`webgpu_engine`]).

#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use js_sys::{Float32Array, Object, Promise, Reflect, Uint8Array};
use tessera_core::manifest::TestVector;
use tessera_core::ErrorCode;
use tessera_runtime::capability::{check_limits, probe};
use tessera_runtime::local::EngineModule;
use tessera_runtime::LocalRuntime;
use tessera_runtime_webgpu::GpuSession;
use wasm_bindgen::prelude::{Closure, JsCast};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use wasm_bindgen_test::{wasm_bindgen_test as test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_dedicated_worker);

const VECTORS: &str = include_str!("../../edge/tests/fixtures/mlp.vectors.json");

/// Whether `run.sh` started Chromium with WebGPU.
fn webgpu() -> bool {
    option_env!("TESSERA_TEST_WEBGPU") != Some("0")
}

fn fixture(value: Option<&'static str>, name: &str) -> &'static str {
    match value {
        Some(v) => v,
        None => panic!("{name} is unset: run the suite with wasm-tests/run.sh"),
    }
}

fn runtime() -> LocalRuntime {
    let key = fixture(option_env!("TESSERA_TEST_KEY"), "TESSERA_TEST_KEY");
    let base = fixture(option_env!("TESSERA_TEST_BASE"), "TESSERA_TEST_BASE");
    let options =
        format!(r#"{{"trustedKeys": [{key}], "modelsBase": "{base}", "controlled": false}}"#);
    let rt = LocalRuntime::new(js_sys::JSON::parse(&options).unwrap())
        .unwrap_or_else(|e| panic!("LocalRuntime::new failed: {e:?}"));
    rt.use_webgpu_engine(webgpu_engine());
    rt
}

/// The WebGPU engine in the form the worker script hands it over (`{load()}` resolving to a
/// class with `build(bytes)`), made from the `GpuSession` linked into this wasm.
fn webgpu_engine() -> EngineModule {
    let build = Closure::<dyn FnMut(Uint8Array) -> Promise>::new(|model: Uint8Array| {
        let model = model.to_vec();
        future_to_promise(async move { GpuSession::build(model).await.map(JsValue::from) })
    });
    let class = Object::new();
    Reflect::set(&class, &"build".into(), build.as_ref()).unwrap();
    build.forget();
    let class: JsValue = class.into();
    let load = Closure::<dyn FnMut() -> Promise>::new(move || Promise::resolve(&class));
    let engine = Object::new();
    Reflect::set(&engine, &"load".into(), load.as_ref()).unwrap();
    load.forget();
    engine.unchecked_into()
}

fn get(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap()
}

#[test]
async fn capability_probe_finds_an_adapter_only_with_webgpu() {
    match probe().await {
        Ok(adapter) => {
            assert!(webgpu(), "an adapter without --enable-unsafe-webgpu");
            check_limits(&adapter.limits, 0).unwrap();
        }
        Err(e) => {
            assert!(!webgpu(), "no adapter with WebGPU enabled: {e}");
            assert_eq!(e.code(), "no-adapter");
        }
    }
}

#[test]
async fn loads_self_tests_and_runs_the_mlp_within_tolerance() {
    let rt = runtime();
    let loaded = JsFuture::from(rt.load("mlp".into())).await;
    if !webgpu() {
        let error = loaded.unwrap_err();
        assert_eq!(get(&error, "code"), "no-adapter");
        assert_eq!(get(&error, "fault"), "no-adapter");
        return;
    }
    let report = loaded.unwrap_or_else(|e| panic!("load failed: {e:?}"));
    let vectors: Vec<TestVector> = serde_json::from_str(VECTORS).unwrap();
    assert_eq!(
        get(&report, "vectorsPassed").as_f64(),
        Some(vectors.len() as f64)
    );
    assert_eq!(get(&report, "source"), "shards");

    let vector = vectors.last().unwrap();
    let x = &vector.inputs["x"];
    let data: Vec<f32> = x.data.iter().map(|v| *v as f32).collect();
    let inputs = js_sys::JSON::parse(&format!(
        r#"{{"x": {{"dtype": "float32", "shape": {:?}}}}}"#,
        x.shape
    ))
    .unwrap();
    Reflect::set(
        &get(&inputs, "x"),
        &JsValue::from_str("data"),
        &Float32Array::from(data.as_slice()),
    )
    .unwrap();
    let result = JsFuture::from(rt.run("mlp".into(), inputs))
        .await
        .unwrap_or_else(|e| panic!("run failed: {e:?}"));
    let y = get(&get(&get(&result, "outputs"), "y"), "data");
    let got = Float32Array::from(y).to_vec();
    let want = &vector.outputs["y"].data;
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (f64::from(*g) - w).abs() <= vector.tolerance,
            "{got:?} vs {want:?}"
        );
    }
}

#[test]
async fn a_wrong_input_shape_is_the_callers_error() {
    if !webgpu() {
        return;
    }
    let rt = runtime();
    JsFuture::from(rt.load("mlp".into())).await.unwrap();
    let inputs =
        js_sys::JSON::parse(r#"{"x": {"dtype": "float32", "shape": [1, 3], "data": [1, 2, 3]}}"#)
            .unwrap();
    let error = JsFuture::from(rt.run("mlp".into(), inputs))
        .await
        .unwrap_err();
    assert_eq!(get(&error, "code"), "tensor-shape-mismatch");
    assert!(get(&error, "fault").is_null(), "no fallback for bad input");
}
