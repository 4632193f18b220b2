//! Room for a download: whether the shards a model lacks fit in the storage left, and making
//! room by evicting what the config lets the worker remove ([`evict::make_room`]) when they do
//! not. `storage` reads the browser's figures, `evict` and `tessera-core` decide what goes.

use std::rc::Rc;

use tessera_core::manifest::ShardRef;

use crate::engine::Engine;
use crate::error::SwError;
use crate::{evict, storage};

/// Checks that the `missing` shards of `model` fit in the storage left; when they do not,
/// removes what the config lets the worker remove ([`evict::make_room`]) and checks again.
/// Returns the bytes of them already staged.
pub async fn fit(engine: &Rc<Engine>, model: &str, missing: &[ShardRef]) -> Result<u64, SwError> {
    match storage::check_fits(&engine.store, model, missing).await {
        Err(SwError::Quota {
            needed, available, ..
        }) => {
            make_room(engine, model, needed.saturating_sub(available), needed).await?;
            storage::check_fits(&engine.store, model, missing).await
        }
        other => other,
    }
}

/// Frees `to_free` bytes for `model` or fails with `quota` (`needed`: the bytes its download
/// still lacks), removing nothing then.
pub async fn make_room(
    engine: &Rc<Engine>,
    model: &str,
    to_free: u64,
    needed: u64,
) -> Result<(), SwError> {
    match evict::make_room(engine, model, to_free).await? {
        Ok(()) => Ok(()),
        Err(freeable) => Err(storage::quota_error(model, needed, freeable).await),
    }
}
