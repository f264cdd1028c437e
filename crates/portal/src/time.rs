//! Times in answers: Unix seconds as RFC 3339 UTC text (`2024-05-01T12:00:00Z`).

/// `secs` (Unix seconds) as RFC 3339 in UTC.
pub fn rfc3339(secs: i64) -> String {
    sip::headers::rfc3339(secs)
}

/// The wall clock, Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_714_564_800), "2024-05-01T12:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
