//! Times as the explorer shows them: short ages (`4s`, `3m`), owners' ages, the time of day.
//! Pure: the clock comes in as an argument.

use std::time::SystemTime;

/// A duration as a short age: `4s`, `3m`, `2h`, `5d`.
pub fn age(now: SystemTime, then: SystemTime) -> String {
    let s = now.duration_since(then).unwrap_or_default().as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

/// The age of a time given in seconds since the epoch.
pub fn age_secs(now: SystemTime, secs: i64) -> String {
    let then = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    age(now, then)
}

/// ` 5m ago` for an owner with a time, else nothing.
pub fn owner_age(now: SystemTime, o: &crate::drift::attribution::FieldOwner) -> String {
    o.time
        .as_deref()
        .and_then(crate::timefmt::parse_rfc3339)
        .map(|t| format!(" {} ago", age_secs(now, t)))
        .unwrap_or_default()
}

/// Time of day (UTC) as `HH:MM:SS`.
pub fn clock(t: SystemTime) -> String {
    let s = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        % 86400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}
