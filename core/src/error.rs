//! The one trait every tessera error enum implements: a stable, machine-readable code.
//!
//! Codes are kebab-case, never change once published, and are what pages and tests assert
//! (`err.code === 'manifest-rollback'`); the `Display` text is for humans and may change.

/// A stable, machine-readable error code.
pub trait ErrorCode {
    /// The kebab-case code of this error, e.g. `manifest-rollback`.
    fn code(&self) -> &'static str;
}
