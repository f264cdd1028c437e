//! What the admin commands print: a sentence or an aligned table for people, JSON for
//! scripts (`--json`): an `{"ok":true,...}` object for a change, an array of objects for a
//! list.

use std::io::Write;

use serde_json::{json, Value};

/// The outcome of a command, printable both ways.
pub(crate) enum Report {
    /// A change: a sentence, and the fields of the JSON object (`"ok": true` is added).
    Done {
        /// For people.
        text: String,
        /// A JSON object describing the change.
        json: Value,
    },
    /// A list: a table, one JSON object per row, and what to say when it is empty.
    List {
        /// For people.
        table: Table,
        /// For scripts, printed as one array.
        json: Vec<Value>,
        /// The sentence printed instead of an empty table.
        empty: String,
    },
    /// Printed already while the command ran (a streamed list): nothing more to say.
    Written,
    /// One thing shown in full: `name  value` lines for people, one JSON object.
    Record {
        /// For people, in order.
        lines: Vec<(String, String)>,
        /// For scripts.
        json: Value,
    },
}

impl Report {
    /// A change described by `text` and the JSON object `fields`.
    pub(crate) fn done(text: impl Into<String>, fields: Value) -> Report {
        let mut json = json!({ "ok": true });
        if let (Some(out), Value::Object(fields)) = (json.as_object_mut(), fields) {
            out.extend(fields);
        }
        Report::Done {
            text: text.into(),
            json,
        }
    }

    /// Writes the report to `out`, as JSON or for people.
    pub(crate) fn write(&self, out: &mut impl Write, as_json: bool) -> std::io::Result<()> {
        match self {
            Report::Written => Ok(()),
            Report::Done { json, .. } if as_json => writeln!(out, "{json}"),
            Report::Done { text, .. } => writeln!(out, "{text}"),
            Report::List { json, .. } if as_json => {
                writeln!(out, "{}", Value::Array(json.clone()))
            }
            Report::List { table, empty, .. } if table.rows.is_empty() => {
                writeln!(out, "{empty}")
            }
            Report::List { table, .. } => out.write_all(table.render().as_bytes()),
            Report::Record { json, .. } if as_json => writeln!(out, "{json}"),
            Report::Record { lines, .. } => {
                let mut table = Table::new(&[]);
                for (name, value) in lines {
                    table.row(vec![name.clone(), value.clone()]);
                }
                out.write_all(table.render_rows().as_bytes())
            }
        }
    }
}

/// A table with a header line and columns padded to their widest cell.
pub(crate) struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// An empty table with these column titles.
    pub(crate) fn new(header: &[&'static str]) -> Table {
        Table {
            header: header.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Adds a row. Control characters (a User-Agent may carry terminal escapes) are shown
    /// escaped, so a cell can neither move the cursor nor break the line.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| printable(c)).collect());
    }

    /// The table as text, two spaces between columns, no trailing blanks.
    pub(crate) fn render(&self) -> String {
        let header = self.header.iter().map(|h| (*h).to_owned()).collect();
        self.render_lines(std::iter::once(&header).chain(&self.rows))
    }

    /// The rows without the header line (a table of names and values).
    fn render_rows(&self) -> String {
        self.render_lines(self.rows.iter())
    }

    fn render_lines<'a>(&self, lines: impl Iterator<Item = &'a Vec<String>>) -> String {
        let columns = self.rows.iter().map(Vec::len).chain([self.header.len()]);
        let width = |i: usize| {
            let cells = self.rows.iter().filter_map(|r| r.get(i));
            cells
                .map(|c| c.chars().count())
                .chain(self.header.get(i).map(|h| h.chars().count()))
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..columns.max().unwrap_or(0)).map(width).collect();
        let mut out = String::new();
        for line in lines {
            let mut text = String::new();
            for (cell, w) in line.iter().zip(&widths) {
                text.push_str(&format!("{cell:<w$}  "));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        out
    }
}

/// One line of a table streamed as it is read, so its widths are fixed beforehand: each
/// cell padded to its column's width (at least one space after it; the last column, of
/// width 0, unpadded), no trailing blanks.
pub(crate) fn padded_line(columns: &[(&str, usize)], cells: &[&str]) -> String {
    let mut line = String::new();
    for ((_, width), cell) in columns.iter().zip(cells) {
        line.push_str(cell);
        if *width > 0 {
            let pad = width.saturating_sub(cell.chars().count()).max(1);
            line.extend(std::iter::repeat_n(' ', pad));
        }
    }
    line.truncate(line.trim_end().len());
    line
}

/// `s` with control characters escaped (`\u{1b}`).
pub(crate) fn printable(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Unix seconds as `YYYY-MM-DD hh:mm:ss UTC` (the bare number outside 1970 to 9999).
pub(crate) fn utc(unix: i64) -> String {
    let text = sip::headers::rfc3339(unix);
    match text.strip_suffix('Z') {
        Some(time) => format!("{} UTC", time.replacen('T', " ", 1)),
        None => text,
    }
}

/// Unix milliseconds as `YYYY-MM-DD hh:mm:ss.mmm UTC` (the bare number outside 1970 to
/// 9999).
pub(crate) fn utc_ms(ms: i64) -> String {
    match utc(ms.div_euclid(1000)).strip_suffix(" UTC") {
        Some(seconds) => format!("{seconds}.{:03} UTC", ms.rem_euclid(1000)),
        None => ms.to_string(),
    }
}

/// Unix milliseconds as an RFC 3339 UTC time with milliseconds
/// (`2024-05-01T12:00:00.250Z`), what `--json` prints.
pub(crate) fn rfc3339_ms(ms: i64) -> String {
    sip::headers::rfc3339_ms(ms)
}

/// A duration in whole seconds as `m:ss`, or `h:mm:ss` from an hour on; negative ones
/// (clocks of two nodes apart) as `0:00`.
pub(crate) fn duration(seconds: i64) -> String {
    let s = seconds.max(0);
    if s < 3600 {
        format!("{}:{:02}", s / 60, s % 60)
    } else {
        format!("{}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(-1), "-1");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_709_251_199), "2024-02-29 23:59:59 UTC");
        assert_eq!(utc(4_102_444_800), "2100-01-01 00:00:00 UTC");
        assert_eq!(utc(253_402_300_799), "9999-12-31 23:59:59 UTC");
        assert_eq!(utc(i64::MAX), i64::MAX.to_string());
    }

    #[test]
    fn milliseconds_and_durations() {
        assert_eq!(utc_ms(1_709_251_199_007), "2024-02-29 23:59:59.007 UTC");
        assert_eq!(utc_ms(-1), "-1");
        assert_eq!(duration(0), "0:00");
        assert_eq!(duration(-5), "0:00");
        assert_eq!(duration(83), "1:23");
        assert_eq!(duration(3_661), "1:01:01");
    }

    #[test]
    fn records_are_name_value_lines() {
        let r = Report::Record {
            lines: vec![
                ("user".into(), "alice@example.com".into()),
                ("forward-busy".into(), "sip:bob@example.com".into()),
            ],
            json: json!({ "user": "alice@example.com" }),
        };
        let mut out = Vec::new();
        r.write(&mut out, false).unwrap();
        r.write(&mut out, true).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "user          alice@example.com\n\
             forward-busy  sip:bob@example.com\n\
             {\"user\":\"alice@example.com\"}\n"
        );
    }

    #[test]
    fn tables_align_and_escape() {
        let mut t = Table::new(&["USER", "EMAIL"]);
        t.row(vec!["alice@example.com".into(), "-".into()]);
        t.row(vec!["bob@x".into(), "bob\u{1b}[2J@mail.example".into()]);
        assert_eq!(
            t.render(),
            "USER               EMAIL\n\
             alice@example.com  -\n\
             bob@x              bob\\u{1b}[2J@mail.example\n"
        );
    }

    #[test]
    fn reports() {
        let mut out = Vec::new();
        let r = Report::done("added", json!({ "user": "a@b" }));
        r.write(&mut out, true).unwrap();
        r.write(&mut out, false).unwrap();
        let empty = Report::List {
            table: Table::new(&["DOMAIN"]),
            json: Vec::new(),
            empty: "no domains".into(),
        };
        empty.write(&mut out, true).unwrap();
        empty.write(&mut out, false).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"ok\":true,\"user\":\"a@b\"}\nadded\n[]\nno domains\n"
        );
    }
}
