//! The fixture generator (kdrift-sim's `fixture`, re-exported), and what ties a fixture to
//! the drift engine: a report's verdicts in the fixture's terms, and the options a fixture's
//! expectations assume.

pub use kdrift_sim::fixture::*;
use std::collections::BTreeMap;

/// The verdicts of a report, keyed like `expected.json` (fields sorted).
pub fn verdicts_of_report(report: &crate::drift::DriftReport) -> BTreeMap<String, Expected> {
    report
        .entries
        .iter()
        .map(|e| {
            let mut fields: Vec<String> = e.fields.iter().map(|f| f.path.to_string()).collect();
            fields.sort();
            (
                e.key.to_string(),
                Expected {
                    status: e.status.to_string(),
                    fields,
                },
            )
        })
        .collect()
}

/// Generates a fixture in memory.
/// The drift options a fixture is judged with: the default appliers and its tracking label.
pub fn drift_options() -> crate::drift::DriftOptions {
    let appliers = crate::config::load_defaults()
        .map(|c| c.drift.appliers)
        .unwrap_or_default();
    crate::drift::DriftOptions {
        appliers,
        tracking: crate::drift::Tracking {
            selector: crate::drift::LabelSelector::parse(&format!("{}={}", PART_OF.0, PART_OF.1))
                .ok(),
            argocd_app: None,
            ..crate::drift::Tracking::default()
        },
        ..crate::drift::DriftOptions::default()
    }
}
