//! kdrift: an explorer of GitOps drift for Kubernetes.
//!
//! The module tree follows a one-way data flow: `desired` (Git) and `live`
//! (cluster or dump) are sources, `drift` and `diff` are pure, `report` renders, and
//! `runtime` is the single place that wires them together. `model` depends on nothing.

#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod config;
pub mod demo;
pub mod desired;
pub mod diff;
pub mod drift;
pub mod fixture;
pub mod kinds;
pub mod live;
pub mod model;
pub mod path;
pub mod process;
pub mod quantity;
pub mod report;
pub mod runtime;
pub mod selector;
pub mod sim;
pub mod sync;
pub mod text;
pub mod timefmt;
pub mod ui;
pub mod yaml;
