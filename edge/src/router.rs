//! Assembles the edge's routes and layers from an [`EdgeConfig`]: `/healthz`, `/models/…`, the
//! inference API (`/v1/models/…/infer`, `/metrics`), the optional app at `/`, CORS, security
//! headers, the client address (trusted proxies, module `client_ip`), the client-certificate
//! requirement on `/v1/` (mTLS), the request log and `tracing` spans.
//!
//! Security headers on every response: `X-Content-Type-Options: nosniff`,
//! `Referrer-Policy: no-referrer`, `Cross-Origin-Opener-Policy: same-origin`, a CSP for a wasm
//! PWA (see [`content_security_policy`]), and `Strict-Transport-Security` when
//! [`EdgeConfig::sends_hsts`] (always with TLS unless turned off). The app is served by tower-http's `ServeDir` (index.html,
//! `.br` siblings precompressed, `Cache-Control: no-cache`); dot-files other than
//! `.well-known/` are not served. Building the router warns about inline scripts in the app's
//! HTML, which that CSP blocks (module `app_check`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use http::header::{
    ACCEPT_RANGES, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_RANGE,
    CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, IF_RANGE, RANGE, REFERRER_POLICY,
    RETRY_AFTER, STRICT_TRANSPORT_SECURITY, VARY, X_CONTENT_TYPE_OPTIONS,
};
use http::{HeaderName, HeaderValue, Method, StatusCode, Uri};
use ipnet::IpNet;
use tower::ServiceExt as _;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::config::EdgeConfig;
use crate::error::{EdgeError, RequestError};
use crate::models::{self, Artifacts};
use crate::path::percent_decode;
use crate::request_log::{self, RequestLog};
use crate::tls::ClientCertificate;

/// `Cross-Origin-Opener-Policy` (not among `http`'s named headers).
const CROSS_ORIGIN_OPENER_POLICY: HeaderName =
    HeaderName::from_static("cross-origin-opener-policy");
/// How long browsers may cache a CORS preflight answer.
const PREFLIGHT_MAX_AGE: Duration = Duration::from_secs(600);

/// Builds the edge's [`Router`] (for `tessera serve`, tests and embedding). Checks that the
/// directories exist, that CORS origins are well formed and opens the request log.
pub fn router(config: &EdgeConfig) -> Result<Router, EdgeError> {
    if !config.artifacts.is_dir() {
        return Err(EdgeError::ArtifactsMissing {
            path: config.artifacts.clone(),
        });
    }
    if let Some(app) = config.app.as_ref().filter(|app| !app.is_dir()) {
        return Err(EdgeError::AppMissing { path: app.clone() });
    }
    let origins = config
        .cors_origins
        .iter()
        .map(|origin| parse_origin(origin))
        .collect::<Result<Vec<_>, _>>()?;
    let log = RequestLog::open(config.request_log.as_deref())?;

    let models = Router::new()
        .route("/models", any(models::listing_not_served))
        .route("/models/", any(models::listing_not_served))
        .route("/models/{*path}", any(models::serve))
        .with_state(Artifacts::new(config.artifacts.clone()));
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .merge(models)
        .merge(crate::inference::routes(
            &config.inference,
            config.artifacts.clone(),
            config.read_timeout,
        ));
    router = match &config.app {
        Some(app) => {
            crate::app_check::warn_inline_scripts(app);
            let serve_dir = ServeDir::new(app)
                .precompressed_br()
                .append_index_html_on_directories(true);
            router.fallback_service(Router::new().fallback(serve_app).with_state(serve_dir))
        }
        None => router.fallback(not_found),
    };
    if config
        .tls
        .as_ref()
        .is_some_and(|tls| tls.client_ca.is_some())
    {
        // Inside CORS, so preflights are answered and refusals carry CORS headers.
        router = router.layer(axum::middleware::from_fn_with_state(
            config.read_timeout,
            require_client_cert,
        ));
    }
    if !origins.is_empty() {
        router = router.layer(cors(&origins));
    }
    let csp = HeaderValue::from_str(&content_security_policy(&origins)).map_err(|_| {
        EdgeError::CorsOriginInvalid {
            origin: origins.join(" "),
        }
    })?;
    router = router
        .layer(SetResponseHeaderLayer::overriding(
            CONTENT_SECURITY_POLICY,
            csp,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            CROSS_ORIGIN_OPENER_POLICY,
            HeaderValue::from_static("same-origin"),
        ));
    if config.sends_hsts() {
        router = router.layer(SetResponseHeaderLayer::overriding(
            STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    let trusted_proxies: Arc<[IpNet]> = config.trusted_proxies.clone().into();
    Ok(router
        .layer(axum::middleware::from_fn_with_state(
            trusted_proxies,
            crate::client_ip::layer,
        ))
        .layer(axum::middleware::from_fn_with_state(
            log,
            request_log::record,
        ))
        .layer(TraceLayer::new_for_http()))
}

/// The CSP sent with every response: a wasm PWA that talks to its own origin and to the
/// configured CORS origins (e.g. a CDN holding the same artifacts).
pub fn content_security_policy(connect_origins: &[String]) -> String {
    let mut connect = String::from("'self'");
    for origin in connect_origins {
        connect.push(' ');
        connect.push_str(origin);
    }
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; \
         connect-src {connect}; img-src 'self' data:; style-src 'self'; object-src 'none'; \
         base-uri 'self'; frame-ancestors 'none'"
    )
}

/// Normalizes an origin to the form browsers send (`scheme://host[:port]`, lowercase, no
/// trailing `/`), or refuses it.
fn parse_origin(raw: &str) -> Result<String, EdgeError> {
    let invalid = || EdgeError::CorsOriginInvalid {
        origin: raw.to_owned(),
    };
    let trimmed = raw.trim();
    let origin = trimmed
        .strip_suffix('/')
        .unwrap_or(trimmed)
        .to_ascii_lowercase();
    let (scheme, host) = origin.split_once("://").ok_or_else(invalid)?;
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if matches!(scheme, "http" | "https") && host_ok {
        Ok(origin)
    } else {
        Err(invalid())
    }
}

fn cors(origins: &[String]) -> CorsLayer {
    // `parse_origin` allows only visible ASCII, so every origin is a valid header value.
    let origins = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok());
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::GET, Method::HEAD, Method::POST, Method::OPTIONS])
        .allow_headers([RANGE, IF_RANGE, IF_NONE_MATCH, AUTHORIZATION, CONTENT_TYPE])
        .expose_headers([
            CONTENT_RANGE,
            CONTENT_LENGTH,
            ETAG,
            ACCEPT_RANGES,
            RETRY_AFTER,
        ])
        .max_age(PREFLIGHT_MAX_AGE)
}

async fn healthz() -> Response {
    let mut response = Json(serde_json::json!({ "status": "ok" })).into_response();
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// With `--client-ca`: `/v1/` (the inference API) only for connections whose handshake
/// verified a client certificate; everything else stays public.
async fn require_client_cert(
    State(read_timeout): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let needs_cert = request.uri().path().starts_with("/v1/");
    if needs_cert && request.extensions().get::<ClientCertificate>().is_none() {
        drain_refused_body(request.into_body(), read_timeout).await;
        return RequestError::ClientCertRequired.into_response();
    }
    next.run(request).await
}

/// Most bytes of a refused request's body read before answering.
const DRAIN_LIMIT: usize = 64 * 1024;
/// Longest wait for them.
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Reads and drops what is left of a refused request's body (at most [`DRAIN_LIMIT`] within
/// [`DRAIN_TIME`] or `read_timeout`, whichever is shorter) before the refusal is sent. Over
/// HTTP/2 an answer to a request whose body is still streaming is followed by a stream reset,
/// and clients (curl 7.88 here) then lose the answer itself: a small refused body read to its
/// end lets the `401`/`429` arrive as such. Larger (declared or streamed) or slower bodies are
/// not waited for.
pub(crate) async fn drain_refused_body(body: Body, read_timeout: Duration) {
    use axum::body::HttpBody as _;
    if body.is_end_stream() || body.size_hint().lower() > DRAIN_LIMIT as u64 {
        return;
    }
    let within = DRAIN_TIME.min(read_timeout);
    let _ = tokio::time::timeout(within, axum::body::to_bytes(body, DRAIN_LIMIT)).await;
}

async fn not_found(uri: Uri) -> RequestError {
    RequestError::NotFound(uri.path().to_owned())
}

/// Serves one request from the app directory.
async fn serve_app(State(serve_dir): State<ServeDir>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    if let Err(error) = check_app_path(&path) {
        return error.into_response();
    }
    let Ok(response) = serve_dir.oneshot(request).await;
    let status = response.status();
    if status == StatusCode::NOT_FOUND {
        return RequestError::NotFound(path).into_response();
    }
    let mut response = response.map(Body::new);
    if status.is_success() || status == StatusCode::NOT_MODIFIED {
        let headers = response.headers_mut();
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        headers.append(VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

/// Refuses app paths with forbidden escapes and dot-files (`.git/`, `.env`), except
/// `.well-known/`.
fn check_app_path(raw: &str) -> Result<(), RequestError> {
    let decoded = percent_decode(raw)?;
    let hidden = decoded
        .split('/')
        .any(|segment| segment.starts_with('.') && segment != ".well-known");
    if hidden {
        return Err(RequestError::NotFound(raw.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tessera_core::ErrorCode as _;

    use super::*;

    #[test]
    fn origins_are_normalized_or_refused() {
        assert_eq!(
            parse_origin("https://App.Example.com/").ok().as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            parse_origin("http://[::1]:8080").ok().as_deref(),
            Some("http://[::1]:8080")
        );
        for bad in [
            "*",
            "app.example.com",
            "ftp://x",
            "https://",
            "https://x/path",
            "https://x y",
            "https://x;y",
        ] {
            assert_eq!(
                parse_origin(bad).err().map(|e| e.code()),
                Some("cors-origin-invalid"),
                "{bad}"
            );
        }
    }

    #[test]
    fn csp_lets_the_app_reach_itself_and_the_cors_origins_only() {
        let csp = content_security_policy(&["https://cdn.example.com".to_owned()]);
        assert!(
            csp.contains("connect-src 'self' https://cdn.example.com;"),
            "{csp}"
        );
        assert!(
            csp.contains("script-src 'self' 'wasm-unsafe-eval'"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }

    #[test]
    fn app_dot_files_and_encoded_separators_are_refused() {
        for (path, code) in [
            ("/.git/config", "not-found"),
            ("/%2eenv", "not-found"),
            ("/a%2f..%2fb", "path-invalid"),
        ] {
            assert_eq!(
                check_app_path(path).err().map(|e| e.code()),
                Some(code),
                "{path}"
            );
        }
        assert!(check_app_path("/.well-known/assetlinks.json").is_ok());
        assert!(check_app_path("/pkg/app.wasm").is_ok());
    }
}
