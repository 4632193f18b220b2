//! The URLs `tessera check` is given (`--app`, `--models`, `--api`): parsed once into a
//! [`Target`] (scheme, host, port, base path), from which origins and request URLs are made.
//! Pure: no IO.

use std::fmt;

/// `http` or `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Plain HTTP (reported as a failure by the TLS rows, but checked otherwise).
    Http,
    /// HTTP over TLS.
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// An absolute `http(s)` URL reduced to what the checks need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The scheme.
    pub scheme: Scheme,
    /// Host name or IP address, lowercase, IPv6 without brackets.
    pub host: String,
    /// The port (the scheme's default when the URL has none).
    pub port: u16,
    /// The path, starting and ending with `/`.
    pub path: String,
}

impl Target {
    /// Parses an absolute `http://` or `https://` URL (query and fragment are dropped).
    pub fn parse(input: &str) -> Result<Self, String> {
        let uri: http::Uri = input.trim().parse().map_err(|e| format!("{e}"))?;
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(other) => return Err(format!("scheme {other:?} is not http or https")),
            None => return Err("not an absolute URL (want https://host/…)".to_owned()),
        };
        let authority = uri
            .authority()
            .ok_or_else(|| "the URL has no host".to_owned())?;
        if authority.as_str().contains('@') {
            return Err("user names in URLs are not supported".to_owned());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return Err("the URL has no host".to_owned());
        }
        let port = authority.port_u16().unwrap_or(scheme.default_port());
        let mut path = uri.path().to_owned();
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        if !path.ends_with('/') {
            path.push('/');
        }
        Ok(Self {
            scheme,
            host,
            port,
            path,
        })
    }

    /// The same target with `path` as its base path when it has none (`/`).
    pub fn or_path(mut self, path: &str) -> Self {
        if self.path == "/" {
            self.path = path.to_owned();
        }
        self
    }

    /// Whether requests go over TLS.
    pub fn is_tls(&self) -> bool {
        self.scheme == Scheme::Https
    }

    /// `host[:port]` as a `Host` header says it (the port only when not the default).
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.scheme.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// The origin as browsers send it: `scheme://host[:port]`.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme.as_str(), self.authority())
    }

    /// `rel` (no leading `/`) under the base path, as a path for the request line.
    pub fn path_of(&self, rel: &str) -> String {
        format!("{}{rel}", self.path)
    }

    /// The absolute URL of `rel` under the base path.
    pub fn url(&self, rel: &str) -> String {
        format!("{}{}", self.origin(), self.path_of(rel))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.origin(), self.path)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_become_origins_and_base_paths() {
        let t = Target::parse("https://Models.Example.com/models").unwrap();
        assert_eq!(t.origin(), "https://models.example.com");
        assert_eq!(t.path, "/models/");
        assert_eq!(
            t.url("_shards/ab"),
            "https://models.example.com/models/_shards/ab"
        );
        let t = Target::parse("https://127.0.0.1:8443").unwrap();
        assert_eq!(t.origin(), "https://127.0.0.1:8443");
        assert_eq!(t.port, 8443);
        assert_eq!(t.clone().or_path("/models/").path, "/models/");
        assert_eq!(
            Target::parse("http://[::1]:80/x/").unwrap().origin(),
            "http://[::1]"
        );
        assert_eq!(Target::parse("http://[::1]:8080/").unwrap().host, "::1");
        assert_eq!(
            Target::parse("https://a.example:443/?q=1")
                .unwrap()
                .origin(),
            "https://a.example"
        );
    }

    #[test]
    fn non_http_urls_are_refused() {
        for bad in [
            "models.example.com",
            "/models/",
            "ftp://x/",
            "https://",
            "https://u@x/",
            "",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
