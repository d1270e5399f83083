//! Glob patterns where `*` stands for any run of characters: field managers counted as
//! people (`attribution.people`), protected contexts (`protect`). Pure.

/// Whether `text` matches a glob `pattern` where `*` stands for any run of characters.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_like_shells() {
        assert!(glob_match("*prod*", "gke-prod-eu"));
        assert!(glob_match("*prod*", "prod"));
        assert!(!glob_match("*prod*", "staging"));
        assert!(glob_match("kind-*", "kind-dev"));
        assert!(!glob_match("kind-*", "dev-kind"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
        assert!(glob_match("a*c*e", "abcde"));
    }
}
