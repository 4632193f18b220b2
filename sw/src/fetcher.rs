//! HTTP through the worker's global `fetch`: a GET with optional `Range` and bearer token,
//! answered as a [`Fetched`] head whose body is read chunk by chunk from its ReadableStream.
//! It does not retry, check ranges or authenticate on its own (see `download`, `auth`).

use futures_util::StreamExt as _;
use js_sys::Uint8Array;
use wasm_bindgen::JsCast;
use wasm_streams::readable::IntoStream;
use web_sys::{Headers, Request, RequestCache, RequestInit, Response, WorkerGlobalScope};

use crate::js_error::{await_promise, cast, catch, JsError};

/// A response head plus its unread body.
#[derive(Debug)]
pub struct Fetched {
    /// HTTP status.
    pub status: u16,
    /// `Content-Range`, if sent (and exposed by CORS).
    pub content_range: Option<String>,
    /// `Content-Length`, if sent.
    pub content_length: Option<u64>,
    body: Option<IntoStream<'static>>,
}

impl Fetched {
    /// The next body chunk; `None` at the clean end. Dropping `self` cancels the body.
    pub async fn next_chunk(&mut self) -> Result<Option<Uint8Array>, JsError> {
        let Some(body) = self.body.as_mut() else {
            return Ok(None);
        };
        match body.next().await {
            None => Ok(None),
            Some(Ok(value)) => Ok(Some(cast::<Uint8Array>(value, "body chunk")?)),
            Some(Err(e)) => Err(JsError::from(e)),
        }
    }

    /// The whole body (for small documents: manifests, tokens).
    pub async fn bytes(self) -> Result<Vec<u8>, JsError> {
        self.bytes_up_to(usize::MAX).await
    }

    /// The body, but no more than the first chunks past `cap` bytes: reading stops (and the rest
    /// is cancelled) once more than `cap` bytes arrived, so a caller that refuses bodies over
    /// `cap` never buffers an unbounded one.
    pub async fn bytes_up_to(mut self, cap: usize) -> Result<Vec<u8>, JsError> {
        let mut out = Vec::new();
        while let Some(chunk) = self.next_chunk().await? {
            out.extend_from_slice(&chunk.to_vec());
            if out.len() > cap {
                break;
            }
        }
        Ok(out)
    }
}

/// `GET url`, with `Range: range` and `Authorization: Bearer token` when given. Rejects only
/// when the browser's fetch does (offline, CORS, DNS); any HTTP status is a [`Fetched`].
pub async fn get(url: &str, range: Option<&str>, token: Option<&str>) -> Result<Fetched, JsError> {
    let headers = catch(Headers::new())?;
    if let Some(range) = range {
        catch(headers.set("Range", range))?;
    }
    if let Some(token) = token {
        catch(headers.set("Authorization", &format!("Bearer {token}")))?;
    }
    let mut init = RequestInit::new();
    init.method("GET")
        .headers(&headers)
        .cache(RequestCache::NoStore);
    let request = catch(Request::new_with_str_and_init(url, &init))?;
    let scope: WorkerGlobalScope = js_sys::global().unchecked_into();
    let response: Response = cast(
        await_promise(scope.fetch_with_request(&request)).await?,
        "fetch response",
    )?;
    let header = |name: &str| response.headers().get(name).ok().flatten();
    Ok(Fetched {
        status: response.status(),
        content_range: header("content-range"),
        content_length: header("content-length").and_then(|v| v.trim().parse().ok()),
        body: response
            .body()
            .map(|raw| wasm_streams::ReadableStream::from_raw(raw.unchecked_into()).into_stream()),
    })
}
