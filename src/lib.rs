//! kdrift: an explorer of GitOps drift for Kubernetes.
//!
//! The module tree follows a one-way data flow: `desired` (Git) and `live`
//! (cluster or dump) are sources, `drift` and `diff` are pure, `report` renders, and
//! `runtime` is the single place that wires them together. `model` depends on nothing.

#![forbid(unsafe_code)]

// The vocabulary lives in kdrift-core and sim in kdrift-sim; both are used here under the
// module names the rest of the code knows (`crate::model`, `crate::sim` …).
use kdrift_core::{kinds, quantity, selector, timefmt};
pub use kdrift_core::{model, path, text, yaml};
pub use kdrift_sim as sim;

pub mod app;
pub mod cachefile;
pub mod cli;
pub mod config;
pub mod desired;
mod diff;
pub mod drift;
pub mod fixture;
mod glob;
pub mod history;
pub mod keymap;
pub mod live;
mod par;
mod process;
mod report;
pub mod runtime;
pub mod sync;
pub mod ui;
pub mod watch;
