//! NTP timestamps as RTCP carries them (RFC 3550 §4): 64-bit fixed point, seconds since
//! 1 January 1900 in the high 32 bits and the fraction of a second in the low 32 bits. The
//! "middle 32 bits" (16.16 fixed point) make the LSR field of report blocks and the unit of
//! DLSR (RFC 3550 §6.4.1).
//!
//! No clock is read here: [`NtpTimestamp::from_system_time`] converts a `SystemTime` the
//! caller passes in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds from the NTP epoch (1900-01-01) to the Unix epoch (1970-01-01).
pub const NTP_UNIX_OFFSET_SECS: u64 = 2_208_988_800;

/// A 64-bit NTP timestamp (RFC 3550 §4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTimestamp(pub u64);

impl NtpTimestamp {
    /// From whole seconds since 1900 and a 32-bit binary fraction of a second.
    pub fn from_parts(seconds: u32, fraction: u32) -> Self {
        NtpTimestamp(u64::from(seconds) << 32 | u64::from(fraction))
    }

    /// The wall-clock time `time` (read by the caller) as NTP. Times before 1970 count as
    /// 1970; the seconds wrap in 2036 as NTP's era 0 does.
    pub fn from_system_time(time: SystemTime) -> Self {
        let since_unix = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Self::from_duration_since_1900(since_unix + Duration::from_secs(NTP_UNIX_OFFSET_SECS))
    }

    /// A duration since the NTP epoch as a timestamp (seconds modulo 2^32).
    pub fn from_duration_since_1900(since: Duration) -> Self {
        let seconds = since.as_secs() as u32;
        let fraction = ((u64::from(since.subsec_nanos()) << 32) / 1_000_000_000) as u32;
        Self::from_parts(seconds, fraction)
    }

    /// Whole seconds since 1900 (modulo 2^32).
    pub fn seconds(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The fraction of a second in units of 2^-32 s.
    pub fn fraction(self) -> u32 {
        self.0 as u32
    }

    /// The middle 32 bits: 16 bits of seconds, 16 bits of fraction. The LSR field of a
    /// report block and the clock of RTT computation (RFC 3550 §6.4.1).
    pub fn middle32(self) -> u32 {
        (self.0 >> 16) as u32
    }

    /// The time since 1900 this timestamp stands for, within the era.
    pub fn to_duration_since_1900(self) -> Duration {
        let nanos = (u64::from(self.fraction()) * 1_000_000_000 + (1 << 31)) >> 32;
        Duration::from_secs(u64::from(self.seconds())) + Duration::from_nanos(nanos)
    }
}

impl std::ops::Add<Duration> for NtpTimestamp {
    type Output = NtpTimestamp;

    /// This timestamp plus a duration (wrapping like NTP seconds do).
    fn add(self, d: Duration) -> NtpTimestamp {
        NtpTimestamp(self.0.wrapping_add(duration_to_ntp64(d)))
    }
}

/// A duration as 64-bit NTP units (2^-32 s).
fn duration_to_ntp64(d: Duration) -> u64 {
    let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
    (d.as_secs() << 32).wrapping_add(frac)
}

/// A duration in the 16.16 fixed point of DLSR (units of 1/65536 s, RFC 3550 §6.4.1),
/// saturating at the largest value (about 18 hours).
pub fn duration_to_short(d: Duration) -> u32 {
    let units = d.as_secs().saturating_mul(65_536)
        + (u64::from(d.subsec_nanos()) * 65_536 + 500_000_000) / 1_000_000_000;
    u32::try_from(units).unwrap_or(u32::MAX)
}

/// A 16.16 fixed-point value (DLSR, or a difference of middle-32 timestamps) as a duration.
pub fn short_to_duration(units: u32) -> Duration {
    let secs = u64::from(units >> 16);
    let nanos = (u64::from(units & 0xffff) * 1_000_000_000 + 32_768) >> 16;
    Duration::from_secs(secs) + Duration::from_nanos(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_epoch_is_the_documented_ntp_second() {
        let t = NtpTimestamp::from_system_time(UNIX_EPOCH);
        assert_eq!(t.seconds(), 2_208_988_800);
        assert_eq!(t.fraction(), 0);
    }

    #[test]
    fn fractions_and_middle_bits() {
        let t = NtpTimestamp::from_system_time(UNIX_EPOCH + Duration::from_millis(1_500));
        assert_eq!(t.seconds(), 2_208_988_801);
        assert_eq!(t.fraction(), 0x8000_0000);
        assert_eq!(t.middle32(), (2_208_988_801u32 & 0xffff) << 16 | 0x8000);
        let back = t.to_duration_since_1900();
        assert_eq!(back.subsec_millis(), 500);
    }

    #[test]
    fn add_matches_conversion_of_the_later_time() {
        let base = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let d = Duration::from_micros(2_345_678);
        let a = NtpTimestamp::from_system_time(base) + d;
        let b = NtpTimestamp::from_system_time(base + d);
        assert!(a.0.abs_diff(b.0) <= 1, "{a:?} {b:?}");
    }

    #[test]
    fn short_format_round_trips_to_the_unit() {
        for ms in [0u64, 1, 20, 999, 5_000, 65_535_000] {
            let d = Duration::from_millis(ms);
            let back = short_to_duration(duration_to_short(d));
            assert!(
                back.abs_diff(d) <= Duration::from_micros(16),
                "{ms}: {back:?}"
            );
        }
        assert_eq!(duration_to_short(Duration::from_secs(1)), 65_536);
        assert_eq!(duration_to_short(Duration::from_secs(100_000)), u32::MAX);
    }
}
