//! Times of captured messages as people and tools read them.

/// Unix milliseconds as RFC 3339 in UTC with milliseconds: `2024-02-29T23:59:59.007Z`
/// (the bare number past the year 9999).
pub fn rfc3339_ms(unix_ms: u64) -> String {
    match i64::try_from(unix_ms) {
        Ok(ms) => sip::headers::rfc3339_ms(ms),
        Err(_) => unix_ms.to_string(),
    }
}

/// Unix milliseconds as a file name stamp in UTC: `20240229-235959`.
pub(crate) fn file_stamp(unix_ms: u64) -> String {
    let secs = (unix_ms / 1000).min(253_402_300_799);
    let (y, m, d) = sip::headers::civil_from_days(secs / 86_400);
    let s = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_and_file_stamps() {
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(1_709_251_199_007), "2024-02-29T23:59:59.007Z");
        assert_eq!(rfc3339_ms(u64::MAX), u64::MAX.to_string());
        assert_eq!(file_stamp(1_709_251_199_007), "20240229-235959");
    }
}
