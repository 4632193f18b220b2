//! The service worker engine inside a real service worker (headless Chromium) against a real
//! `tessera serve`: install, serve with Range, resume from staged bytes, refuse corrupt staged
//! bytes, re-download evicted shards, error codes, IndexedDB transactions that abort, and
//! shards kept while a response streams them. Run with `wasm-tests/run.sh`, which packs
//! the fixture and passes `TESSERA_TEST_BASE`, `TESSERA_TEST_KEY` and `TESSERA_TEST_SHA`.

#![cfg(target_arch = "wasm32")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use js_sys::{Object, Promise, Reflect, Uint8Array};
use tessera_core::{Manifest, Sha256Digest};
use tessera_sw::config::StorageChoice;
use tessera_sw::shard_bytes::Piece;
use tessera_sw::store::{Preopened, Store};
use tessera_sw::TesseraServiceWorker;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::{wasm_bindgen_test as test, wasm_bindgen_test_configure};
use web_sys::{Headers, Request, RequestInit, Response, WorkerGlobalScope};

wasm_bindgen_test_configure!(run_in_service_worker);

const MODEL: &str = "fixture";

/// A fixture value `run.sh` passes at compile time.
fn fixture(value: Option<&'static str>, name: &str) -> &'static str {
    match value {
        Some(v) => v,
        None => panic!("{name} is unset: run the suite with wasm-tests/run.sh"),
    }
}

fn base() -> &'static str {
    fixture(option_env!("TESSERA_TEST_BASE"), "TESSERA_TEST_BASE")
}

fn config(chunk_size: u32) -> String {
    config_with(chunk_size, "auto")
}

fn config_with(chunk_size: u32, storage: &str) -> String {
    let key = fixture(option_env!("TESSERA_TEST_KEY"), "TESSERA_TEST_KEY");
    format!(
        r#"{{"prefix": "/models/", "artifactsBase": "{}", "trustedKeys": [{key}],
            "concurrency": 2, "chunkSize": {chunk_size}, "storage": "{storage}"}}"#,
        base()
    )
}

/// `bytes` as a stored piece.
fn piece(bytes: &[u8]) -> Piece {
    let mut p = Piece::default();
    p.push(Uint8Array::from(bytes));
    p
}

fn expected_sha() -> &'static str {
    fixture(option_env!("TESSERA_TEST_SHA"), "TESSERA_TEST_SHA")
}

fn origin() -> String {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    scope.location().origin()
}

/// Storage opened as `tessera-sw-lib.js` opens it before the wasm is ready (the engine adopts
/// it): every engine made here goes through that path.
fn early_storage() -> JsValue {
    js_sys::Function::new_with_args(
        "db",
        "return { db, opfsRoot: navigator.storage.getDirectory() };",
    )
    .call1(&JsValue::UNDEFINED, &early_open("tessera"))
    .unwrap()
}

async fn engine(chunk_size: u32) -> TesseraServiceWorker {
    TesseraServiceWorker::create(config(chunk_size), early_storage())
        .await
        .unwrap_or_else(|e| panic!("create failed: {e:?}"))
}

async fn send(sw: &TesseraServiceWorker, op: &str) -> JsValue {
    let msg = Object::new();
    Reflect::set(&msg, &"tessera".into(), &1.into()).unwrap();
    Reflect::set(&msg, &"op".into(), &op.into()).unwrap();
    Reflect::set(&msg, &"model".into(), &MODEL.into()).unwrap();
    JsFuture::from(sw.message(msg.into(), None)).await.unwrap()
}

fn field(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

async fn get(sw: &TesseraServiceWorker, path: &str, range: Option<&str>, method: &str) -> Response {
    let headers = Headers::new().unwrap();
    if let Some(r) = range {
        headers.set("Range", r).unwrap();
    }
    let mut init = RequestInit::new();
    init.method(method).headers(&headers);
    let url = format!("{}/models/{MODEL}/{path}", origin());
    let req = Request::new_with_str_and_init(&url, &init).unwrap();
    JsFuture::from(sw.fetch(req))
        .await
        .unwrap()
        .unchecked_into()
}

async fn body(resp: &Response) -> Vec<u8> {
    let buf = JsFuture::from(resp.array_buffer().unwrap()).await.unwrap();
    Uint8Array::new(&buf).to_vec()
}

async fn fetch_text(url: &str) -> String {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let resp: Response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .unwrap()
        .unchecked_into();
    JsFuture::from(resp.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap()
}

async fn fetch_bytes(url: &str) -> Vec<u8> {
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let resp: Response = JsFuture::from(scope.fetch_with_str(url))
        .await
        .unwrap()
        .unchecked_into();
    body(&resp).await
}

async fn manifest() -> Manifest {
    let envelope = fetch_text(&format!("{}{MODEL}/manifest.json", base())).await;
    // Read for the test's expectations only: the worker under test does the verifying.
    let payload = tessera_core::dsse::Envelope::from_json(envelope.as_bytes())
        .unwrap()
        .payload_bytes()
        .unwrap();
    Manifest::from_json(&payload).unwrap()
}

async fn fresh(chunk_size: u32) -> TesseraServiceWorker {
    let sw = engine(chunk_size).await;
    let _ = send(&sw, "remove").await;
    sw
}

async fn assert_serves_the_file(sw: &TesseraServiceWorker) {
    let resp = get(sw, "model.bin", None, "GET").await;
    assert_eq!(resp.status(), 200);
    let bytes = body(&resp).await;
    assert_eq!(Sha256Digest::of(&bytes).to_hex(), expected_sha());
}

#[test]
async fn ensure_downloads_verifies_and_serves_exact_bytes_with_ranges() {
    let sw = fresh(16 * 1024).await;
    let status = send(&sw, "ensure").await;
    assert_eq!(
        field(&status, "state").as_string().as_deref(),
        Some("ready")
    );
    assert_eq!(
        field(&status, "version").as_string().as_deref(),
        Some("1.0.0")
    );

    let full = get(&sw, "model.bin", None, "GET").await;
    assert_eq!(full.status(), 200);
    let h = |r: &Response, k: &str| r.headers().get(k).unwrap();
    assert_eq!(h(&full, "etag"), Some(format!("\"{}\"", expected_sha())));
    assert_eq!(h(&full, "accept-ranges").as_deref(), Some("bytes"));
    assert_eq!(h(&full, "x-tessera-version").as_deref(), Some("1.0.0"));
    let bytes = body(&full).await;
    assert_eq!(Sha256Digest::of(&bytes).to_hex(), expected_sha());

    // A range across the first shard boundary (64 KiB).
    let part = get(&sw, "model.bin", Some("bytes=65000-66099"), "GET").await;
    assert_eq!(part.status(), 206);
    assert_eq!(
        h(&part, "content-range").as_deref(),
        Some("bytes 65000-66099/300000")
    );
    assert_eq!(body(&part).await, bytes[65000..66100]);

    let suffix = get(&sw, "model.bin", Some("bytes=-10"), "GET").await;
    assert_eq!(body(&suffix).await, bytes[bytes.len() - 10..]);

    let past = get(&sw, "model.bin", Some("bytes=300000-"), "GET").await;
    assert_eq!(past.status(), 416);
    assert_eq!(h(&past, "content-range").as_deref(), Some("bytes */300000"));

    let head = get(&sw, "model.bin", None, "HEAD").await;
    assert_eq!(head.status(), 200);
    assert_eq!(h(&head, "content-length").as_deref(), Some("300000"));

    let json = get(&sw, "config.json", None, "GET").await;
    assert_eq!(
        h(&json, "content-type").as_deref(),
        Some("application/json")
    );
}

#[test]
async fn resumes_from_a_stored_prefix() {
    let sw = fresh(16 * 1024).await;
    let m = manifest().await;
    let first = m
        .files
        .iter()
        .find(|f| f.path.as_str() == "model.bin")
        .unwrap()
        .shards[0];
    let shard = fetch_bytes(&format!("{}_shards/{}", base(), first.sha256)).await;
    let store = Store::open(StorageChoice::Auto, Preopened::default())
        .await
        .unwrap();
    store
        .persist(&first.sha256, 0, &piece(&shard[..20_000]))
        .await
        .unwrap();
    assert_eq!(store.partial(&first.sha256).await.unwrap(), Some(20_000));

    let status = send(&sw, "ensure").await;
    assert_eq!(
        field(&status, "state").as_string().as_deref(),
        Some("ready")
    );
    assert_eq!(field(&status, "resumed").as_bool(), Some(true));
    assert!(store
        .verified_shards()
        .await
        .unwrap()
        .contains(&first.sha256.to_hex()));
    assert_serves_the_file(&sw).await;
}

#[test]
async fn corrupt_stored_prefix_is_never_served() {
    let sw = fresh(16 * 1024).await;
    let m = manifest().await;
    let first = m
        .files
        .iter()
        .find(|f| f.path.as_str() == "model.bin")
        .unwrap()
        .shards[0];
    let store = Store::open(StorageChoice::Auto, Preopened::default())
        .await
        .unwrap();
    store
        .persist(&first.sha256, 0, &piece(&[0xAB; 30_000]))
        .await
        .unwrap();

    let status = send(&sw, "ensure").await;
    assert_eq!(
        field(&status, "state").as_string().as_deref(),
        Some("ready")
    );
    assert_serves_the_file(&sw).await;
}

#[test]
async fn evicted_shard_is_downloaded_again() {
    let sw = fresh(64 * 1024).await;
    let status = send(&sw, "ensure").await;
    assert_eq!(
        field(&status, "state").as_string().as_deref(),
        Some("ready")
    );
    let m = manifest().await;
    let victim = m.files[0].shards[1];
    Store::open(StorageChoice::Auto, Preopened::default())
        .await
        .unwrap()
        .discard(&victim.sha256)
        .await
        .unwrap();

    // A new worker instance (as after a restart) notices the hole and fills it.
    let restarted = engine(64 * 1024).await;
    let status = send(&restarted, "ensure").await;
    assert_eq!(
        field(&status, "state").as_string().as_deref(),
        Some("ready")
    );
    assert_serves_the_file(&restarted).await;
}

#[test]
async fn errors_carry_stable_codes() {
    let sw = fresh(16 * 1024).await;
    let _ = send(&sw, "ensure").await;
    let missing = get(&sw, "nope.bin", None, "GET").await;
    assert_eq!(missing.status(), 404);
    let text = JsFuture::from(missing.text().unwrap())
        .await
        .unwrap()
        .as_string()
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["error"]["code"], "file-not-found");

    let bad = TesseraServiceWorker::create("{}".into(), JsValue::UNDEFINED)
        .await
        .unwrap_err();
    assert_eq!(
        field(&bad, "code").as_string().as_deref(),
        Some("config-invalid")
    );

    let msg = Object::new();
    Reflect::set(&msg, &"op".into(), &"ensure".into()).unwrap();
    Reflect::set(&msg, &"model".into(), &"no-such-model".into()).unwrap();
    let err = JsFuture::from(sw.message(msg.into(), None)).await.unwrap();
    assert_eq!(
        field(&err, "code").as_string().as_deref(),
        Some("model-not-found")
    );
    let _: Promise = sw.activate();
}

/// `indexedDB.open(name)` started from JS, as `tessera-sw-lib.js` starts it before the wasm runs.
fn early_open(name: &str) -> Promise {
    js_sys::Function::new_with_args(
        "name",
        "return new Promise((ok) => { const r = indexedDB.open(name); \
         r.onsuccess = () => ok(r.result); r.onerror = () => ok(null); });",
    )
    .call1(&JsValue::UNDEFINED, &name.into())
    .unwrap()
    .unchecked_into()
}

#[test]
async fn an_early_connection_is_adopted_when_it_fits_and_closed_when_an_upgrade_needs_it_gone() {
    use tessera_sw::idb;

    let name = "tessera-idb-adopt-test";
    // First start ever: the early open creates an empty version 1, which must be closed for the
    // upgrade to version 2 (an open connection would block it: this test would then hang).
    let db = idb::open(name, 2, &["things"], Some(early_open(name)))
        .await
        .unwrap();
    let put = |db: &idb::Db| {
        let tx = db
            .tx(&["things"], web_sys::IdbTransactionMode::Readwrite)
            .unwrap();
        let _ = tx
            .store("things")
            .unwrap()
            .put_with_key(&1.into(), &"k".into())
            .unwrap();
        tx
    };
    put(&db).done().await.unwrap();
    // Next start: the early connection is at version 2 with every store, and is used as is.
    let again = idb::open(name, 2, &["things"], Some(early_open(name)))
        .await
        .unwrap();
    put(&again).done().await.unwrap();
    // One that resolved to something else is ignored.
    let other = idb::open(name, 2, &["things"], Some(Promise::resolve(&JsValue::NULL)))
        .await
        .unwrap();
    put(&other).done().await.unwrap();
}

#[test]
async fn an_aborted_transaction_reports_its_error_instead_of_hanging() {
    use tessera_sw::idb;
    use web_sys::IdbTransactionMode;

    let db = idb::open("tessera-idb-abort-test", 1, &["things"], None)
        .await
        .unwrap();
    let tx = db.tx(&["things"], IdbTransactionMode::Readwrite).unwrap();
    let first = tx
        .store("things")
        .unwrap()
        .put_with_key(&1.into(), &"k".into())
        .unwrap();
    drop(idb::wait(&first));
    tx.done().await.unwrap();

    // `add` of an existing key fails, which aborts the transaction: `done` must settle with
    // the reason (rexie's `done()` listened only for complete/error and could hang here).
    let tx = db.tx(&["things"], IdbTransactionMode::Readwrite).unwrap();
    let _dup = tx
        .store("things")
        .unwrap()
        .add_with_key(&2.into(), &"k".into())
        .unwrap();
    let err = tx.done().await.unwrap_err();
    assert_eq!(err.name, "ConstraintError", "{err}");
}

#[test]
async fn a_response_being_streamed_keeps_its_shards_through_garbage_collection() {
    use web_sys::{ReadableStream, ReadableStreamDefaultReader};

    // The IndexedDB store streams record by record and knows when a response ended.
    let sw = TesseraServiceWorker::create(config_with(16 * 1024, "indexeddb"), early_storage())
        .await
        .unwrap();
    let _ = send(&sw, "remove").await;
    let status = send(&sw, "ensure").await;
    assert_eq!(
        field(&status, "state").as_string().as_deref(),
        Some("ready")
    );
    let resp = get(&sw, "model.bin", None, "GET").await;
    let stream: ReadableStream = resp.body().unwrap();
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let read = |reader: ReadableStreamDefaultReader| async move {
        let r = JsFuture::from(reader.read()).await.unwrap();
        let done = field(&r, "done").as_bool().unwrap_or(true);
        (!done).then(|| Uint8Array::new(&field(&r, "value")).to_vec())
    };
    let mut bytes = read(reader.clone()).await.unwrap();
    assert!(
        bytes.len() < 300_000,
        "the first read returned the whole file"
    );

    // Removing the model makes every shard garbage, but the open response still streams them.
    let _ = send(&sw, "remove").await;
    let store = Store::open(StorageChoice::Indexeddb, Preopened::default())
        .await
        .unwrap();
    assert!(
        !store.verified_shards().await.unwrap().is_empty(),
        "shards were collected while a response was streaming them"
    );
    while let Some(more) = read(reader.clone()).await {
        bytes.extend_from_slice(&more);
    }
    assert_eq!(Sha256Digest::of(&bytes).to_hex(), expected_sha());

    // Once the response has ended, the deferred collection removes them.
    for _ in 0..50 {
        if store.verified_shards().await.unwrap().is_empty() {
            return;
        }
        sleep_ms(20).await;
    }
    panic!("the shards were never collected after the response ended");
}

async fn sleep_ms(ms: i32) {
    let promise = Promise::new(&mut |resolve, _| {
        let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
        scope
            .set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms)
            .unwrap();
    });
    JsFuture::from(promise).await.unwrap();
}

#[test]
async fn a_blob_answer_stays_readable_after_its_model_is_removed() {
    // On OPFS a file is answered as a Blob over the shard files; the browser reads it at its
    // own pace, so collection keeps those files for a while (a lease of at least 60 s).
    let sw = fresh(16 * 1024).await;
    let status = send(&sw, "ensure").await;
    assert_eq!(
        field(&status, "storage").as_string().as_deref(),
        Some("opfs")
    );
    let resp = get(&sw, "model.bin", None, "GET").await;
    assert_eq!(resp.status(), 200);
    let _ = send(&sw, "remove").await;
    let store = Store::open(StorageChoice::Opfs, Preopened::default())
        .await
        .unwrap();
    assert!(
        !store.bytes.stored().await.unwrap().is_empty(),
        "shard files were deleted under a live Blob answer"
    );
    assert_eq!(
        Sha256Digest::of(&body(&resp).await).to_hex(),
        expected_sha()
    );
}

#[test]
async fn a_promoted_shard_is_listed_as_verified_at_once() {
    // Promotions are group-committed in the background: a list of verified shards must still
    // include every shard promoted before it was asked for, on both stores.
    let _sw = fresh(64 * 1024).await;
    let shard = Sha256Digest::of(b"promoted shard");
    for storage in [StorageChoice::Auto, StorageChoice::Indexeddb] {
        let store = Store::open(storage, Preopened::default()).await.unwrap();
        store.persist(&shard, 0, &piece(&[7; 1000])).await.unwrap();
        store.promote(&shard, 1000);
        assert!(
            store
                .verified_shards()
                .await
                .unwrap()
                .contains(&shard.to_hex()),
            "{storage:?}"
        );
        store.discard(&shard).await.unwrap();
        assert!(!store
            .verified_shards()
            .await
            .unwrap()
            .contains(&shard.to_hex()));
    }
}

#[test]
async fn a_piece_file_opened_ahead_holds_its_piece_and_an_unused_one_leaves_nothing() {
    let _sw = fresh(64 * 1024).await;
    let store = Store::open(StorageChoice::Auto, Preopened::default())
        .await
        .unwrap();
    // Opened ahead, then written: the staged length counts exactly the piece.
    let used = Sha256Digest::of(b"prepared and written");
    store.bytes.prepare(&used, 0);
    store.persist(&used, 0, &piece(&[1; 5000])).await.unwrap();
    assert_eq!(store.partial(&used).await.unwrap(), Some(5000));
    // Opened ahead for a request that never delivered a byte: nothing is staged, and
    // discarding the shard removes it (the open writable does not block the removal).
    let unused = Sha256Digest::of(b"prepared, never written");
    store.bytes.prepare(&unused, 0);
    sleep_ms(100).await;
    assert_eq!(store.partial(&unused).await.unwrap(), None);
    store.discard(&unused).await.unwrap();
    assert!(!store
        .bytes
        .stored()
        .await
        .unwrap()
        .contains(&unused.to_hex()));
    store.discard(&used).await.unwrap();
}
