//! Thin Promise-based IndexedDB primitives over `web-sys`: open a database (creating missing
//! object stores), await a request, and await a transaction's end — `complete`, `abort` or
//! `error` — reporting `IDBTransaction.error` (e.g. a `QuotaExceededError` at commit, which
//! fires only `abort`). It knows nothing of tessera's records; [`crate::store`] does.

use std::future::Future;

use js_sys::{Array, Function, Promise, Reflect};
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
) -> Result<Db, JsError> {
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
        let end = Promise::new(&mut |resolve: Function, reject: Function| {
            raw.set_oncomplete(Some(&resolve));
            raw.set_onabort(Some(&reject));
            raw.set_onerror(Some(&reject));
        });
        Ok(Tx { raw, end })
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
