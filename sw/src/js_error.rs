//! JavaScript exceptions as typed errors: re-exported from `tessera-js-error`, the one place
//! they are converted (shared with the runtime).

pub use tessera_js_error::*;
