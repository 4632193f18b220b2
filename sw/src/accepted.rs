//! Manifests this worker accepted: fetching a model's published manifest and judging it with
//! `tessera-core`'s update policy ([`fetch_and_judge`]), and reopening a stored envelope
//! ([`decode`]). The policy decides; this module only does the IO around it. It does not store
//! anything (the callers write the model record).

use tessera_core::layout::ModelName;
use tessera_core::Manifest;

use crate::engine::Engine;
use crate::error::SwError;

/// A stored (already accepted) envelope's manifest, reopened by core's acceptance path:
/// signature and name checked again, no clock (expiry and rollback were judged at acceptance).
pub fn decode(engine: &Engine, model: &str, envelope: &str) -> Result<Manifest, SwError> {
    let _t = crate::timing::span("decode");
    let name: ModelName = model.parse()?;
    Ok(engine.config.policy().reopen(&name, envelope.as_bytes())?)
}

/// Fetches `{artifactsBase}NAME/manifest.json` and judges it against `previous` (the manifest
/// accepted before, if any) at the current time: the envelope as fetched and the verdict.
pub async fn fetch_and_judge(
    engine: &Engine,
    model: &ModelName,
    previous: Option<&Manifest>,
) -> Result<(String, tessera_core::policy::Accepted), SwError> {
    let url = engine.manifest_url(model);
    let fetched = engine.auth.get(&url, None).await?;
    match fetched.status {
        200 => {}
        404 => {
            return Err(SwError::ModelNotFound {
                model: model.to_string(),
                url,
            })
        }
        status => return Err(SwError::HttpStatus { url, status }),
    }
    // Core refuses an envelope over the cap (`manifest-too-large`); stop reading just past it.
    let bytes = fetched
        .bytes_up_to(tessera_core::limits::MAX_MANIFEST_BYTES)
        .await
        .map_err(|cause| SwError::Network {
            url: url.clone(),
            cause,
        })?;
    let now = (js_sys::Date::now() / 1000.0) as u64;
    let accepted = engine
        .config
        .policy()
        .evaluate(model, previous, &bytes, now)?;
    let envelope =
        String::from_utf8(bytes).map_err(|_| SwError::BadRequest(format!("{url} is not UTF-8")))?;
    Ok((envelope, accepted))
}
