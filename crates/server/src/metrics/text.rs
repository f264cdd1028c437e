//! [`Exposition`]: the Prometheus text format 0.0.4 — `# HELP` and `# TYPE` lines, then
//! the samples of each family — written into one `String`. Hand-written rather than a
//! client library: the counters the hot path bumps are fixed arrays of atomics
//! ([`super::sip_counts`]), everything else is read when scraped, so all the format needs
//! is this writer (the `prometheus-client` crate writes OpenMetrics, not 0.0.4, and keeps
//! labelled families behind a lock).

use std::fmt::Write;

use super::histogram::HistogramSnapshot;

/// The content type of the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The type of a metric family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The text of a scrape, family by family.
#[derive(Debug, Default)]
pub(crate) struct Exposition {
    out: String,
}

impl Exposition {
    /// Starts family `name`: its help and type lines. Its samples follow.
    pub(crate) fn family(&mut self, name: &str, kind: Kind, help: &str) {
        self.out.push_str("# HELP ");
        self.out.push_str(name);
        self.out.push(' ');
        escape(&mut self.out, help, false);
        self.out.push('\n');
        let _ = writeln!(self.out, "# TYPE {name} {}", kind.as_str());
    }

    /// One sample: `name{labels} value`.
    pub(crate) fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Value) {
        self.out.push_str(name);
        self.labels(labels, None);
        self.out.push(' ');
        value.write(&mut self.out);
        self.out.push('\n');
    }

    /// A family with one unlabelled sample.
    pub(crate) fn single(&mut self, name: &str, kind: Kind, help: &str, value: impl Value) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The samples of a histogram (its family line written before): cumulative
    /// `_bucket{le}` lines, `+Inf` last, then `_sum` and `_count`.
    pub(crate) fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        snapshot: &HistogramSnapshot,
    ) {
        let mut cumulative = 0u64;
        for (bound, count) in snapshot.bounds.iter().zip(&snapshot.counts) {
            cumulative += count;
            self.bucket(name, labels, &bound.to_string(), cumulative);
        }
        self.bucket(name, labels, "+Inf", snapshot.count);
        self.sample(&format!("{name}_sum"), labels, snapshot.sum_seconds);
        self.sample(&format!("{name}_count"), labels, snapshot.count);
    }

    fn bucket(&mut self, name: &str, labels: &[(&str, &str)], le: &str, count: u64) {
        self.out.push_str(name);
        self.out.push_str("_bucket");
        self.labels(labels, Some(le));
        let _ = writeln!(self.out, " {count}");
    }

    fn labels(&mut self, labels: &[(&str, &str)], le: Option<&str>) {
        if labels.is_empty() && le.is_none() {
            return;
        }
        self.out.push('{');
        let le = le.map(|v| ("le", v));
        for (i, (name, value)) in labels.iter().copied().chain(le).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(name);
            self.out.push_str("=\"");
            escape(&mut self.out, value, true);
            self.out.push('"');
        }
        self.out.push('}');
    }

    /// The text.
    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// Appends `text` with backslash and line feed escaped (help text), and the double quote
/// too in a label value (`quoted`).
fn escape(out: &mut String, text: &str, quoted: bool) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '"' if quoted => out.push_str("\\\""),
            c => out.push(c),
        }
    }
}

/// A sample value: integers as integers, floats in Rust's shortest round-trip form
/// (never exponent notation), non-finite ones as the format spells them.
pub(crate) trait Value {
    fn write(self, out: &mut String);
}

impl Value for u64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Value for usize {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
}

impl Value for f64 {
    fn write(self, out: &mut String) {
        if self.is_nan() {
            out.push_str("NaN");
        } else if self.is_infinite() {
            out.push_str(if self > 0.0 { "+Inf" } else { "-Inf" });
        } else {
            let _ = write!(out, "{self}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_samples_and_escapes() {
        let mut e = Exposition::default();
        e.family("x_total", Kind::Counter, "A \\ help\nline.");
        e.sample("x_total", &[("code", "200")], 3u64);
        e.sample("x_total", &[("a", "q\"uo\\te\n"), ("b", "2")], 0.5f64);
        e.single("y", Kind::Gauge, "Y.", f64::INFINITY);
        assert_eq!(
            e.finish(),
            "# HELP x_total A \\\\ help\\nline.\n# TYPE x_total counter\n\
             x_total{code=\"200\"} 3\n\
             x_total{a=\"q\\\"uo\\\\te\\n\",b=\"2\"} 0.5\n\
             # HELP y Y.\n# TYPE y gauge\ny +Inf\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let snapshot = HistogramSnapshot {
            bounds: &[0.001, 0.01],
            counts: vec![2, 1],
            count: 4,
            sum_seconds: 0.25,
        };
        let mut e = Exposition::default();
        e.histogram("h_seconds", &[("writer", "w")], &snapshot);
        assert_eq!(
            e.finish(),
            "h_seconds_bucket{writer=\"w\",le=\"0.001\"} 2\n\
             h_seconds_bucket{writer=\"w\",le=\"0.01\"} 3\n\
             h_seconds_bucket{writer=\"w\",le=\"+Inf\"} 4\n\
             h_seconds_sum{writer=\"w\"} 0.25\n\
             h_seconds_count{writer=\"w\"} 4\n"
        );
    }
}
