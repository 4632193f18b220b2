//! Bearer tokens for artifact requests: set by the page (`set-token`) or fetched from the
//! configured `tokenUrl`, refreshed once when the server answers 401; a second 401 is
//! `auth-failed`. It does not store tokens beyond the worker's lifetime.

use std::cell::RefCell;

use crate::error::SwError;
use crate::fetcher::{self, Fetched};

/// The current token and where to get a new one.
#[derive(Debug, Default)]
pub struct Auth {
    token: RefCell<Option<String>>,
    token_url: Option<String>,
}

impl Auth {
    /// Tokens from `token_url` (absolute), if configured.
    pub fn new(token_url: Option<String>) -> Self {
        Self {
            token: RefCell::new(None),
            token_url,
        }
    }

    /// Uses `token` from now on (empty: none).
    pub fn set(&self, token: Option<String>) {
        *self.token.borrow_mut() = token.filter(|t| !t.is_empty());
    }

    fn current(&self) -> Option<String> {
        self.token.borrow().clone()
    }

    /// Fetches a fresh token from `tokenUrl`; `false` when none is configured.
    async fn refresh(&self) -> Result<bool, SwError> {
        let Some(url) = &self.token_url else {
            return Ok(false);
        };
        let fetched = fetcher::get(url, None, None)
            .await
            .map_err(|cause| SwError::Network {
                url: url.clone(),
                cause,
            })?;
        if fetched.status != 200 {
            return Err(SwError::AuthFailed { url: url.clone() });
        }
        let body = fetched.bytes().await.map_err(|cause| SwError::Network {
            url: url.clone(),
            cause,
        })?;
        let token = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(str::to_owned))
            .ok_or_else(|| SwError::AuthFailed { url: url.clone() })?;
        self.set(Some(token));
        Ok(true)
    }

    /// `GET url` (with `range`) carrying the token; on 401 refreshes the token once and
    /// retries; a 401 after that is `auth-failed`. A rejected fetch is `network`.
    pub async fn get(&self, url: &str, range: Option<&str>) -> Result<Fetched, SwError> {
        if self.current().is_none() && self.token_url.is_some() {
            self.refresh().await?;
        }
        let net = |cause| SwError::Network {
            url: url.to_owned(),
            cause,
        };
        let first = fetcher::get(url, range, self.current().as_deref())
            .await
            .map_err(net)?;
        if first.status != 401 {
            return Ok(first);
        }
        drop(first);
        if !self.refresh().await? {
            return Err(SwError::AuthFailed {
                url: url.to_owned(),
            });
        }
        let second = fetcher::get(url, range, self.current().as_deref())
            .await
            .map_err(net)?;
        if second.status == 401 {
            return Err(SwError::AuthFailed {
                url: url.to_owned(),
            });
        }
        Ok(second)
    }
}
