//! Times given on the command line (`--since`, `--until`).

use super::Failure;

/// Parses a time option (`flag`, for the message): Unix seconds, or an RFC 3339 date-time
/// or full date (midnight UTC), as [`sip::headers::parse_time_ms`] reads them. Returns
/// Unix milliseconds.
pub(crate) fn parse_time(flag: &str, text: &str) -> Result<i64, Failure> {
    sip::headers::parse_time_ms(text).ok_or_else(|| {
        Failure::user(format!(
            "{flag} {text:?} is not a time: give RFC 3339 (2024-05-01T12:00:00Z, \
             2024-05-01T14:00:00+02:00, 2024-05-01) or Unix seconds (1714564800)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_time_names_its_flag_and_the_forms() {
        assert_eq!(
            parse_time("--since", "2024-05-01").ok(),
            Some(1_714_521_600_000)
        );
        let e = parse_time("--until", "yesterday")
            .err()
            .map(|f| format!("{f:?}"));
        assert!(
            e.as_deref()
                .is_some_and(|m| m.contains("--until") && m.contains("RFC 3339")),
            "{e:?}"
        );
    }
}
