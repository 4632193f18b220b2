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
use crate::progress::{ModelStatus, State};
use crate::update::{collect_garbage, decode};

/// A stored version: model name and whether it is the active one (else the pending one).
struct Slot {
    model: String,
    active: bool,
}

/// What [`make_room`] removed.
#[derive(Debug, Default)]
pub struct Room {
    /// Bytes of shards its removals freed.
    pub freed: u64,
    /// `(model, version)` of each removed version.
    pub removed: Vec<(String, String)>,
}

/// Removes stored versions, least recently served first, until at least `needed` bytes are
/// freed for installing `installing`. `Ok(Err(freeable))` when the config forbids it or even
/// every removable version would free less (then nothing is removed).
pub async fn make_room(
    engine: &Rc<Engine>,
    installing: &str,
    needed: u64,
) -> Result<Result<Room, u64>, SwError> {
    if engine.config.evict == EvictChoice::Never {
        return Ok(Err(0));
    }
    let store = &engine.store;
    let leased: BTreeSet<String> = engine.leased_shards().into_iter().collect();
    let mut slots = Vec::new();
    let mut versions = Vec::new();
    let mut names = Vec::new();
    for name in store.model_names().await? {
        let Some(rec) = store.model(&name).await? else {
            continue;
        };
        let last_used_ms = rec.last_used.max(engine.last_served(&name));
        let busy = name == installing || engine.installing(&name);
        for (envelope, active) in [(rec.active, true), (rec.pending, false)] {
            let Some(envelope) = envelope else { continue };
            let m = decode(engine, &name, &envelope)?;
            let shards: Vec<_> = m.unique_shards().into_iter().collect();
            let reading = shards.iter().any(|s| leased.contains(&s.sha256.to_hex()));
            versions.push(StoredVersion {
                shards,
                last_used_ms,
                evictable: !busy && !reading,
            });
            names.push(m.version.to_string());
            slots.push(Slot {
                model: name.clone(),
                active,
            });
        }
    }
    let have = store.verified_shards().await?;
    let plan = match plan_eviction(&versions, |sha| have.contains(&sha.to_hex()), needed) {
        Ok(plan) => plan,
        Err(freeable) => return Ok(Err(freeable)),
    };
    let mut room = Room {
        freed: plan.frees,
        removed: Vec::new(),
    };
    for i in plan.victims {
        let (Some(slot), Some(version)) = (slots.get(i), names.get(i)) else {
            continue;
        };
        remove_version(engine, slot).await?;
        room.removed.push((slot.model.clone(), version.clone()));
    }
    collect_garbage(engine).await?;
    Ok(Ok(room))
}

/// Drops one stored version's record (the whole record when nothing else is left in it) and
/// tells the model's pages it is gone.
async fn remove_version(engine: &Rc<Engine>, slot: &Slot) -> Result<(), SwError> {
    let store = &engine.store;
    let Some(mut rec) = store.model(&slot.model).await? else {
        return Ok(());
    };
    if slot.active {
        rec.active = None;
        engine.forget_ready(&slot.model);
    } else {
        rec.pending = None;
        rec.installing = false;
    }
    if rec.active.is_none() && rec.pending.is_none() {
        store.delete_model(&slot.model).await?;
    } else {
        store.put_model(&slot.model, &rec).await?;
    }
    let mut status = ModelStatus::new(&slot.model, State::Absent);
    status.evicted = true;
    engine.publish(status, true);
    Ok(())
}
