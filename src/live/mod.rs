//! The live state: objects as a cluster returns them. This module reads them from a dump
//! (`--live-file`: multi-document YAML or JSON, a `List`, `kubectl get -A -o yaml` output);
//! it knows nothing of Git or the UI.

pub mod cluster;
pub mod exec;
/// Dumps of live objects (`--live-file`), read by kdrift-core.
pub use kdrift_core::dump as file;
pub mod kubeconfig;
pub mod server_diff;
pub mod watch;

pub use kdrift_core::dump::{LiveError, LiveSnapshot};
