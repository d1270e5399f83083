//! Wall-clock times as the API server writes them: see `crate::timefmt`.

pub use crate::timefmt::{age, now, parse_rfc3339, rfc3339};
