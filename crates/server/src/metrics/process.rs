//! The standard `process_*` metrics of Prometheus client libraries, read from `/proc/self`
//! (Linux) when scraped: CPU seconds, resident and virtual memory, open and maximum file
//! descriptors, start time. Elsewhere (or when a file cannot be read) the metric is left
//! out rather than reported as zero.

use std::path::Path;

use super::text::{Exposition, Kind};

/// Clock ticks per second of `/proc/*/stat` times: USER_HZ, 100 in the kernel's ABI on
/// every architecture this runs on.
const TICKS_PER_SECOND: f64 = 100.0;

/// What `/proc/self` says about this process.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct ProcessReading {
    /// User + system CPU time, seconds.
    pub(crate) cpu_seconds: Option<f64>,
    /// Resident set size, bytes.
    pub(crate) resident_bytes: Option<u64>,
    /// Virtual memory size, bytes.
    pub(crate) virtual_bytes: Option<u64>,
    /// Open file descriptors.
    pub(crate) open_fds: Option<u64>,
    /// The soft limit of open files.
    pub(crate) max_fds: Option<u64>,
    /// Start time, Unix seconds.
    pub(crate) start_time_seconds: Option<f64>,
}

impl ProcessReading {
    /// Reads `/proc/self`.
    pub(crate) fn read() -> ProcessReading {
        let proc = Path::new("/proc");
        let stat = std::fs::read_to_string(proc.join("self/stat")).ok();
        let stat = stat.as_deref().and_then(StatFields::parse);
        let status = std::fs::read_to_string(proc.join("self/status")).unwrap_or_default();
        let boot_time = std::fs::read_to_string(proc.join("stat"))
            .ok()
            .and_then(|s| boot_time(&s));
        let limits = std::fs::read_to_string(proc.join("self/limits")).unwrap_or_default();
        ProcessReading {
            cpu_seconds: stat.map(|s| (s.utime + s.stime) as f64 / TICKS_PER_SECOND),
            resident_bytes: status_kib(&status, "VmRSS:").map(|k| k * 1024),
            virtual_bytes: status_kib(&status, "VmSize:").map(|k| k * 1024),
            open_fds: std::fs::read_dir(proc.join("self/fd"))
                .ok()
                .map(|d| d.count() as u64),
            max_fds: max_open_files(&limits),
            start_time_seconds: match (stat, boot_time) {
                (Some(s), Some(boot)) => Some(boot as f64 + s.starttime as f64 / TICKS_PER_SECOND),
                _ => None,
            },
        }
    }

    /// Writes the families that were read.
    pub(crate) fn write(&self, e: &mut Exposition) {
        if let Some(v) = self.cpu_seconds {
            e.single(
                "process_cpu_seconds_total",
                Kind::Counter,
                "Total user and system CPU time spent in seconds.",
                v,
            );
        }
        if let Some(v) = self.resident_bytes {
            e.single(
                "process_resident_memory_bytes",
                Kind::Gauge,
                "Resident memory size in bytes.",
                v,
            );
        }
        if let Some(v) = self.virtual_bytes {
            e.single(
                "process_virtual_memory_bytes",
                Kind::Gauge,
                "Virtual memory size in bytes.",
                v,
            );
        }
        if let Some(v) = self.open_fds {
            e.single(
                "process_open_fds",
                Kind::Gauge,
                "Number of open file descriptors.",
                v,
            );
        }
        if let Some(v) = self.max_fds {
            e.single(
                "process_max_fds",
                Kind::Gauge,
                "Maximum number of open file descriptors.",
                v,
            );
        }
        if let Some(v) = self.start_time_seconds {
            e.single(
                "process_start_time_seconds",
                Kind::Gauge,
                "Start time of the process since unix epoch in seconds.",
                v,
            );
        }
    }
}

/// The fields of `/proc/self/stat` used here (proc(5): 14 utime, 15 stime, 22 starttime).
#[derive(Debug, Clone, Copy)]
struct StatFields {
    utime: u64,
    stime: u64,
    starttime: u64,
}

impl StatFields {
    /// The command name (field 2) is in parentheses and may hold spaces and parentheses:
    /// the fields are counted after its last `)`.
    fn parse(stat: &str) -> Option<StatFields> {
        let after_name = &stat[stat.rfind(')')? + 1..];
        // Field 3 (state) is the first after the name.
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |n: usize| fields.get(n.checked_sub(3)?)?.parse::<u64>().ok();
        Some(StatFields {
            utime: field(14)?,
            stime: field(15)?,
            starttime: field(22)?,
        })
    }
}

/// A `Name:   123 kB` line of `/proc/self/status`, in KiB.
fn status_kib(status: &str, name: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse().ok()
}

/// `btime` of `/proc/stat`: the boot time, Unix seconds.
fn boot_time(stat: &str) -> Option<u64> {
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// The soft limit of `Max open files` in `/proc/self/limits`.
fn max_open_files(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_name_with_spaces_and_parentheses() {
        let stat = "1234 (itsp (x) y) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 \
                    7000 1000000 500 18446744073709551615";
        let f = StatFields::parse(stat).unwrap();
        assert_eq!((f.utime, f.stime, f.starttime), (250, 50, 7000));
        assert!(StatFields::parse("garbage").is_none());
        assert!(StatFields::parse("1 (x) S 1").is_none());
    }

    #[test]
    fn status_limits_and_boot_time() {
        let status = "Name:\titsp\nVmSize:\t  123456 kB\nVmRSS:\t    2048 kB\n";
        assert_eq!(status_kib(status, "VmRSS:"), Some(2048));
        assert_eq!(status_kib(status, "VmSize:"), Some(123_456));
        assert_eq!(status_kib(status, "VmSwap:"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units     \n\
                      Max open files            1024                 524288               files     \n";
        assert_eq!(max_open_files(limits), Some(1024));
        assert_eq!(
            boot_time("cpu 1 2 3\nbtime 1700000000\n"),
            Some(1_700_000_000)
        );
    }

    #[test]
    fn this_process_is_read_on_linux() {
        if !Path::new("/proc/self/stat").exists() {
            return;
        }
        let r = ProcessReading::read();
        assert!(r.cpu_seconds.is_some());
        assert!(r.resident_bytes.is_some_and(|b| b > 0));
        assert!(r.open_fds.is_some_and(|n| n > 0));
        assert!(r.max_fds.is_some());
        assert!(r.start_time_seconds.is_some_and(|t| t > 1.0e9));
    }
}
