//! The live state: objects as a cluster returns them. This module reads them from a dump
//! (`--live-file`: multi-document YAML or JSON, a `List`, `kubectl get -A -o yaml` output);
//! it knows nothing of Git or the UI.

pub mod cluster;
pub mod exec;
pub mod file;
pub mod kubeconfig;
pub mod server_diff;
pub mod watch;

use crate::model::LiveObject;

/// Every live object read from one source.
#[derive(Debug, Clone, Default)]
pub struct LiveSnapshot {
    /// Where the objects came from (a file path or a cluster URL).
    pub source: String,
    pub objects: Vec<LiveObject>,
}

/// Why the live state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The live file cannot be opened or read.
    #[error("cannot read live file {path}: {message}")]
    Read { path: String, message: String },
    /// The live file holds something that is not Kubernetes objects.
    #[error("live file {path}, line {line}: {message}")]
    Parse {
        path: String,
        line: usize,
        message: String,
    },
}
