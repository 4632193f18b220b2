//! Making room for a download that does not fit: lists the stored model versions, asks
//! `tessera_core::housekeeping::plan_eviction` which ones to remove (least recently served
//! first, and only if that frees enough), removes them and collects their shards. What it never
//! removes: any version of the model being installed (its active version serves until the
//! switch), a model another download in this worker is installing, versions whose shards a live
//! response is reading, and anything when the config says `"evict": "never"`. It decides
//! nothing itself and does not retry the download (the caller does, once).

use std::collections::BTreeSet;
use std::rc::Rc;

use tessera_core::housekeeping::{plan_eviction, StoredVersion};

use crate::config::EvictChoice;
use crate::engine::Engine;
use crate::error::SwError;
use crate::gc::collect_garbage;
use crate::housekeeping::stored_versions;
use crate::progress::{ModelStatus, State};

/// Removes stored versions, least recently served first, until at least `needed` bytes are
/// freed for installing `installing`. `Ok(Err(freeable))` when the config forbids it or even
/// every removable version would free less (then nothing is removed). Each removed model's
/// pages are told (an `absent` status with `evicted`).
pub async fn make_room(
    engine: &Rc<Engine>,
    installing: &str,
    needed: u64,
) -> Result<Result<(), u64>, SwError> {
    if engine.config.evict == EvictChoice::Never {
        return Ok(Err(0));
    }
    let store = &engine.store;
    let leased: BTreeSet<String> = engine.leased_shards().into_iter().collect();
    let listed = stored_versions(engine).await?;
    let versions: Vec<StoredVersion> = listed
        .iter()
        .map(|v| {
            let busy = v.name == installing || engine.installing(&v.name);
            let reading = v.shards.iter().any(|s| leased.contains(&s.sha256.to_hex()));
            StoredVersion {
                shards: v.shards.clone(),
                last_used_ms: v.last_used,
                evictable: !busy && !reading,
            }
        })
        .collect();
    let have = store.verified_shards().await?;
    let plan = match plan_eviction(&versions, |sha| have.contains(&sha.to_hex()), needed) {
        Ok(plan) => plan,
        Err(freeable) => return Ok(Err(freeable)),
    };
    for victim in plan.victims.iter().filter_map(|&i| listed.get(i)) {
        remove_version(engine, &victim.name, victim.active).await?;
    }
    collect_garbage(engine).await?;
    Ok(Ok(()))
}

/// Drops one stored version's record (the whole record when nothing else is left in it) and
/// tells the model's pages it is gone.
async fn remove_version(engine: &Rc<Engine>, model: &str, active: bool) -> Result<(), SwError> {
    let store = &engine.store;
    let Some(mut rec) = store.model(model).await? else {
        return Ok(());
    };
    if active {
        rec.active = None;
        engine.forget_ready(model);
    } else {
        rec.pending = None;
        rec.installing = false;
    }
    if rec.active.is_none() && rec.pending.is_none() {
        store.delete_model(model).await?;
    } else {
        store.put_model(model, &rec).await?;
    }
    let mut status = ModelStatus::new(model, State::Absent);
    status.evicted = true;
    engine.publish(status, true);
    Ok(())
}
