//! Thin Promise-based IndexedDB primitives over `web-sys`: open a database (creating missing
//! object stores), await a request, and await a transaction's end — `complete`, `abort` or
//! `error` — reporting `IDBTransaction.error` (e.g. a `QuotaExceededError` at commit, which
//! fires only `abort`). It knows nothing of tessera's records; [`crate::store`] does.

use std::future::Future;

use js_sys::{Array, Function, Object, Promise, Reflect};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    IdbDatabase, IdbObjectStore, IdbRequest, IdbRequestReadyState, IdbTransaction,
    IdbTransactionMode, WorkerGlobalScope,
};

use crate::js_error::{cast, catch, JsError};

/// An open database connection.
#[derive(Debug, Clone)]
pub struct Db {
    raw: IdbDatabase,
}

/// A transaction whose end is observed from the moment it was created, so no event is missed.
#[derive(Debug)]
pub struct Tx {
    raw: IdbTransaction,
    end: Promise,
}

/// Opens `name` at `version`, creating whichever of `stores` are missing on upgrade.
pub async fn open(
    name: &str,
    version: u32,
    stores: &'static [&'static str],
    opening: Option<Promise>,
) -> Result<Db, JsError> {
    if let Some(db) = adopt(opening, name, version, stores).await {
        return Ok(Db { raw: db });
    }
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let factory = catch(scope.indexed_db())?
        .ok_or_else(|| JsError::new("NotSupportedError", "IndexedDB is not available here"))?;
    let request = catch(factory.open_with_u32(name, version))?;
    let upgrade = Closure::<dyn FnMut(JsValue)>::new({
        let request = request.clone();
        move |_event: JsValue| {
            let Ok(result) = request.result() else { return };
            let Ok(db) = result.dyn_into::<IdbDatabase>() else {
                return;
            };
            let names = db.object_store_names();
            for store in stores {
                if !names.contains(store) {
                    let _ = db.create_object_store(store);
                }
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let opened = wait(&request).await;
    request.set_onupgradeneeded(None);
    drop(upgrade);
    Ok(Db {
        raw: cast(opened?, "opened database")?,
    })
}

/// The connection `opening` (the glue's `indexedDB.open(name)`, started while the wasm
/// compiled) resolves to, when it is `name` at `version` with every store; otherwise it is
/// closed (an upgrade must not wait for it) and `None`.
async fn adopt(
    opening: Option<Promise>,
    name: &str,
    version: u32,
    stores: &[&str],
) -> Option<IdbDatabase> {
    let db: IdbDatabase = JsFuture::from(opening?).await.ok()?.dyn_into().ok()?;
    let names = db.object_store_names();
    if db.name() == name
        && db.version() == f64::from(version)
        && stores.iter().all(|s| names.contains(s))
    {
        return Some(db);
    }
    db.close();
    None
}

/// Awaits `request`: its `result`, or its `error`. The listeners are attached when this is
/// called (not when first polled), so futures made together for one transaction miss nothing.
pub fn wait(request: &IdbRequest) -> impl Future<Output = Result<JsValue, JsError>> {
    let request = request.clone();
    let pending = request.ready_state() == IdbRequestReadyState::Pending;
    let promise = pending.then(|| {
        Promise::new(&mut |resolve, reject| {
            request.set_onsuccess(Some(&resolve));
            request.set_onerror(Some(&reject));
        })
    });
    async move {
        let outcome = match promise {
            Some(p) => JsFuture::from(p).await.map(drop),
            None => Ok(()),
        };
        request.set_onsuccess(None);
        request.set_onerror(None);
        match (outcome, request_error(&request)) {
            (_, Some(e)) => Err(e),
            (Ok(()), None) => catch(request.result()),
            (Err(event), None) => Err(JsError::from(event)),
        }
    }
}

/// The `error` of a request, if it has one.
fn request_error(request: &IdbRequest) -> Option<JsError> {
    request
        .error()
        .ok()
        .flatten()
        .map(|e| JsError::from(JsValue::from(e)))
}

impl Db {
    /// Starts a transaction over `stores`.
    pub fn tx(&self, stores: &[&str], mode: IdbTransactionMode) -> Result<Tx, JsError> {
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let raw = catch(
            self.raw
                .transaction_with_str_sequence_and_mode(&names, mode),
        )?;
        Ok(Tx::watch(raw))
    }

    /// Starts a read-write transaction over `stores` with `durability: "relaxed"`: it commits
    /// without waiting for the disk to flush (lost only on an OS crash or power loss, never on
    /// a browser crash). For writes that can be redone from what the disk keeps anyway.
    pub fn tx_relaxed(&self, stores: &[&str]) -> Result<Tx, JsError> {
        let names: Array = stores.iter().map(|s| JsValue::from_str(s)).collect();
        let options = record(&[("durability", JsValue::from_str("relaxed"))]);
        let transaction: Function = cast(
            Reflect::get(&self.raw, &JsValue::from_str("transaction"))?,
            "IDBDatabase.transaction",
        )?;
        let raw =
            transaction.call3(&self.raw, &names, &JsValue::from_str("readwrite"), &options)?;
        Ok(Tx::watch(cast(raw, "transaction")?))
    }
}

impl Tx {
    /// Observes `raw`'s end from now on.
    fn watch(raw: IdbTransaction) -> Self {
        let end = Promise::new(&mut |resolve: Function, reject: Function| {
            raw.set_oncomplete(Some(&resolve));
            raw.set_onabort(Some(&reject));
            raw.set_onerror(Some(&reject));
        });
        Tx { raw, end }
    }
}

impl Tx {
    /// One object store of the transaction.
    pub fn store(&self, name: &str) -> Result<IdbObjectStore, JsError> {
        catch(self.raw.object_store(name))
    }

    /// Waits until the transaction commits; `Err` with the reason when it aborts or fails
    /// (a `QuotaExceededError` at commit included).
    pub async fn done(self) -> Result<(), JsError> {
        match JsFuture::from(self.end.clone()).await {
            Ok(_) => Ok(()),
            Err(event) => Err(self.failure(&event)),
        }
    }

    /// Why the transaction failed: its own `error`, else the failed request's, else a generic
    /// abort.
    fn failure(&self, event: &JsValue) -> JsError {
        if let Some(e) = self.raw.error() {
            return JsError::from(JsValue::from(e));
        }
        let target = Reflect::get(event, &JsValue::from_str("target")).unwrap_or(JsValue::NULL);
        if let Some(request) = target.dyn_ref::<IdbRequest>() {
            if let Some(e) = request_error(request) {
                return e;
            }
        }
        JsError::new("AbortError", "the IndexedDB transaction was aborted")
    }
}

impl Drop for Tx {
    fn drop(&mut self) {
        self.raw.set_oncomplete(None);
        self.raw.set_onabort(None);
        self.raw.set_onerror(None);
    }
}

/// A plain object with these fields.
pub fn record(pairs: &[(&str, JsValue)]) -> JsValue {
    let obj = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&obj, &JsValue::from_str(k), v);
    }
    obj.into()
}

/// Field `key` of a record (`undefined` when absent).
pub fn field(value: &JsValue, key: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// Awaits every request (issued together, in order) of one transaction.
pub async fn wait_all(requests: Vec<Result<IdbRequest, JsValue>>) -> Result<(), JsError> {
    let mut waits = Vec::with_capacity(requests.len());
    for r in requests {
        waits.push(wait(&catch(r)?));
    }
    for w in waits {
        w.await?;
    }
    Ok(())
}

/// Issues `requests` in `tx` and waits until the transaction has committed.
pub async fn write(tx: Tx, requests: Vec<Result<IdbRequest, JsValue>>) -> Result<(), JsError> {
    wait_all(requests).await?;
    tx.done().await
}

/// Every key of store `name`.
pub async fn all_keys(db: &Db, name: &str) -> Result<Array, JsError> {
    let tx = db.tx(&[name], IdbTransactionMode::Readonly)?;
    let request = catch(tx.store(name)?.get_all_keys())?;
    let keys = wait(&request).await?;
    Ok(keys.dyn_into().unwrap_or_default())
}
