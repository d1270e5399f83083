//! The live state: objects as a cluster returns them. `cluster` connects as kubectl does
//! (`kubeconfig`, `exec` for credential plugins) and lists, `watch` keeps a view current,
//! `server_diff` asks for server-side apply dry runs; `file` reads a dump (`--live-file`:
//! multi-document YAML or JSON, a `List`, `kubectl get -A -o yaml` output), which
//! kdrift-core's `dump` does. It knows nothing of Git or the UI.

pub mod cluster;
pub mod events;
pub mod exec;
/// Dumps of live objects (`--live-file`), read by kdrift-core.
pub use kdrift_core::dump as file;
pub mod kubeconfig;
pub mod limit;
pub mod server_diff;
pub mod watch;

pub use kdrift_core::dump::{LiveError, LiveSnapshot};

/// Reads a dump (`--live-file`) of at most `limit` bytes, its objects kept as the product
/// keeps live objects (`model::compact_managed_fields`, packed; sim keeps them as written).
pub fn load_file(path: &std::path::Path, limit: u64) -> Result<LiveSnapshot, LiveError> {
    file::load_limited(path, limit)
}
