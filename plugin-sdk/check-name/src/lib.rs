//! What may name a kube-shields check. One rule, used by the host when it lists a plugin's
//! checks and validates badge URLs, and by the Rust SDK at compile time.
#![no_std]
#![deny(missing_docs)]

/// The host's built-in pod health check.
pub const HEALTH: &str = "health";

/// The host's built-in rollout check (the controller's status by kstatus' rules).
pub const ROLLOUT: &str = "rollout";

/// The host's built-in checks; a plugin may not offer a check of these names.
pub const RESERVED: [&str; 2] = [HEALTH, ROLLOUT];

/// Longest check name: a DNS label, so names fit anywhere a Kubernetes name does.
pub const MAX_LEN: usize = 63;

/// The rule in words, for error messages.
pub const RULE: &str = "[a-z0-9][a-z0-9_-]*, at most 63 characters";

/// Whether `name` has the form of a check name: `[a-z0-9][a-z0-9_-]*`, at most 63 bytes (URL-safe
/// as it is). `health` has the form; see [`is_plugin_check_name`].
pub const fn is_check_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() > MAX_LEN {
        return false;
    }
    let mut at = 0;
    while at < bytes.len() {
        let allowed = match bytes[at] {
            b'a'..=b'z' | b'0'..=b'9' => true,
            b'_' | b'-' => at > 0,
            _ => false,
        };
        if !allowed {
            return false;
        }
        at += 1;
    }
    true
}

/// Whether `name` is one of the host's built-in checks ([`RESERVED`]).
pub const fn is_reserved(name: &str) -> bool {
    // `const`: the Rust SDK checks check names at compile time, where `==` on `str` is not allowed.
    matches!(name.as_bytes(), b"health" | b"rollout")
}

/// Whether a plugin may offer a check called `name`: a check name that is not [`RESERVED`].
pub const fn is_plugin_check_name(name: &str) -> bool {
    is_check_name(name) && !is_reserved(name)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::simple("version", true, true)]
    #[case::digits_dashes_underscores("p99-latency_ms", true, true)]
    #[case::leading_digit("2xx", true, true)]
    #[case::longest(&"a".repeat(63), true, true)]
    #[case::too_long(&"a".repeat(64), false, false)]
    #[case::reserved("health", true, false)]
    #[case::reserved_rollout("rollout", true, false)]
    #[case::empty("", false, false)]
    #[case::leading_dash("-x", false, false)]
    #[case::leading_underscore("_x", false, false)]
    #[case::uppercase("Version", false, false)]
    #[case::dot("image.tags", false, false)]
    #[case::slash("a/b", false, false)]
    #[case::space("a b", false, false)]
    #[case::non_ascii("é", false, false)]
    fn check_names(#[case] name: &str, #[case] check_name: bool, #[case] plugin_check_name: bool) {
        assert_eq!(
            (is_check_name(name), is_plugin_check_name(name)),
            (check_name, plugin_check_name)
        );
    }
}

#[cfg(test)]
mod reserved {
    use super::*;

    #[test]
    fn the_const_rule_lists_every_reserved_name() {
        for name in RESERVED {
            assert!(is_reserved(name), "{name}");
        }
        assert!(!is_reserved("healthz"));
    }
}
