//! Garbage collection of stored shards: every shard that no model's active or pending manifest
//! references is deleted, except those a response is still streaming (leases), through
//! `tessera_driver::install::collect_garbage`, which decides that; this module is its browser
//! host (the store, the stored manifests, the engine's leases). It does not choose what to
//! evict to make room (`evict` does, then calls this).

use std::collections::BTreeSet;
use std::rc::Rc;

use futures_util::future::LocalBoxFuture;
use tessera_driver::install::CollectHost;

use crate::accepted::decode;
use crate::engine::Engine;
use crate::error::SwError;

/// Deletes every stored shard no kept manifest references, except those a response is still
/// streaming (collected again when their leases end). Returns how many were deleted.
pub async fn collect_garbage(engine: &Engine) -> Result<usize, SwError> {
    tessera_driver::install::collect_garbage(&Collector(engine)).await
}

/// [`collect_garbage`] in the background, its outcome ignored (the next one retries): what the
/// engine runs when the last lease of a deferred collection ends.
pub fn collect_in_background(engine: Rc<Engine>) {
    wasm_bindgen_futures::spawn_local(async move {
        let _ = collect_garbage(&engine).await;
    });
}

/// Digests (hex) of every shard some model's active or pending manifest references.
async fn referenced_shards(engine: &Engine) -> Result<BTreeSet<String>, SwError> {
    let mut keep = BTreeSet::new();
    for name in engine.store.model_names().await? {
        let Some(rec) = engine.store.model(&name).await? else {
            continue;
        };
        for envelope in [rec.active, rec.pending].into_iter().flatten() {
            let m = decode(engine, &name, &envelope)?;
            keep.extend(m.unique_shards().iter().map(|s| s.sha256.to_hex()));
        }
    }
    Ok(keep)
}

/// The engine as garbage collection's host.
struct Collector<'a>(&'a Engine);

impl CollectHost for Collector<'_> {
    type Error = SwError;

    fn referenced_shards(&self) -> LocalBoxFuture<'_, Result<BTreeSet<String>, SwError>> {
        Box::pin(referenced_shards(self.0))
    }

    fn leased_shards(&self) -> Vec<String> {
        self.0.leased_shards()
    }

    fn defer_gc(&self) {
        self.0.defer_gc();
    }

    fn delete_all_but<'a>(
        &'a self,
        keep: &'a BTreeSet<String>,
    ) -> LocalBoxFuture<'a, Result<usize, SwError>> {
        Box::pin(self.0.store.gc(keep))
    }
}
