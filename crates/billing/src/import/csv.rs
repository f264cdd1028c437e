//! A small CSV line reader that knows where every field starts.
//!
//! Tariff files are simple (RFC 4180 without embedded line breaks): one record a line,
//! fields split at commas, a field may be double-quoted (`""` is a quote inside it), spaces
//! around a field are dropped. Blank lines and lines starting with `#` (CGRateS's header and
//! comments) are skipped. Columns are 1-based character positions, as editors count them.

use std::borrow::Cow;

use crate::error::ImportErrors;

/// One field and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    pub(crate) text: Cow<'a, str>,
    pub(crate) column: usize,
}

/// One record: its line and fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub(crate) line: usize,
    pub(crate) fields: Vec<Field<'a>>,
    /// The column just past the last character, for "missing field" reports.
    pub(crate) end_column: usize,
}

impl Record<'_> {
    /// The text of field `i` (0-based), or "".
    pub(crate) fn text(&self, i: usize) -> &str {
        self.fields.get(i).map_or("", |f| f.text.as_ref())
    }

    /// The column of field `i`, or the end of the line when it is missing.
    pub(crate) fn column(&self, i: usize) -> usize {
        self.fields.get(i).map_or(self.end_column, |f| f.column)
    }
}

/// Every record of `text`; malformed lines (an unterminated quote, text after a closing
/// quote) are reported into `errors` and skipped.
pub(crate) fn records<'a>(file: &str, text: &'a str, errors: &mut ImportErrors) -> Vec<Record<'a>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        match split(line) {
            Ok(fields) => out.push(Record {
                line: i + 1,
                fields,
                end_column: line.chars().count() + 1,
            }),
            Err((column, problem)) => errors.at(file, i + 1, column, problem),
        }
    }
    out
}

fn column_of(line: &str, byte: usize) -> usize {
    line.get(..byte).map_or(1, |s| s.chars().count() + 1)
}

fn split(line: &str) -> Result<Vec<Field<'_>>, (usize, String)> {
    let bytes = line.as_bytes();
    let mut fields = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && (bytes[pos] == b' ' || bytes[pos] == b'\t') {
            pos += 1;
        }
        let start = pos;
        if bytes.get(pos) == Some(&b'"') {
            // Quoted: up to the closing quote, "" is a quote.
            let mut value = String::new();
            let mut escaped = false;
            pos += 1;
            let mut chunk = pos;
            loop {
                match bytes.get(pos) {
                    None => {
                        return Err((column_of(line, start), "unterminated quoted field".into()))
                    }
                    Some(b'"') if bytes.get(pos + 1) == Some(&b'"') => {
                        value.push_str(line.get(chunk..=pos).unwrap_or(""));
                        escaped = true;
                        pos += 2;
                        chunk = pos;
                    }
                    Some(b'"') => break,
                    Some(_) => pos += 1,
                }
            }
            let text: Cow<'_, str> = if escaped {
                value.push_str(line.get(chunk..pos).unwrap_or(""));
                Cow::Owned(value)
            } else {
                Cow::Borrowed(line.get(chunk..pos).unwrap_or(""))
            };
            pos += 1;
            while pos < bytes.len() && (bytes[pos] == b' ' || bytes[pos] == b'\t') {
                pos += 1;
            }
            fields.push(Field {
                text,
                column: column_of(line, start),
            });
            match bytes.get(pos) {
                None => return Ok(fields),
                Some(b',') => pos += 1,
                Some(_) => {
                    return Err((
                        column_of(line, pos),
                        "text after a closing quote (a comma expected)".into(),
                    ))
                }
            }
        } else {
            let end = line
                .get(pos..)
                .and_then(|rest| rest.find(','))
                .map_or(line.len(), |i| pos + i);
            let text = line.get(pos..end).unwrap_or("").trim_end();
            fields.push(Field {
                text: Cow::Borrowed(text),
                column: column_of(line, start),
            });
            if end >= line.len() {
                return Ok(fields);
            }
            pos = end + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(r: &Record<'_>) -> Vec<String> {
        r.fields.iter().map(|f| f.text.to_string()).collect()
    }

    #[test]
    fn fields_and_columns() {
        let mut e = ImportErrors::default();
        let rs = records(
            "f.csv",
            "#Id,Prefix\r\n\nDST_1, 46 \n\"a,b\",\"say \"\"hi\"\"\",\n  # note\nx",
            &mut e,
        );
        assert!(e.is_empty());
        assert_eq!(rs.len(), 3);
        assert_eq!(rs[0].line, 3);
        assert_eq!(texts(&rs[0]), ["DST_1", "46"]);
        assert_eq!(rs[0].column(1), 8);
        assert_eq!(rs[0].column(2), 11);
        assert_eq!(texts(&rs[1]), ["a,b", "say \"hi\"", ""]);
        assert_eq!(rs[1].column(1), 7);
        assert_eq!(rs[1].column(2), 20);
        assert_eq!(texts(&rs[2]), ["x"]);
    }

    #[test]
    fn malformed() {
        let mut e = ImportErrors::default();
        let rs = records("f.csv", "ok,1\n\"open,2\nå,\"q\"x,3\n", &mut e);
        assert_eq!(rs.len(), 1);
        let shown: Vec<String> = e.errors().iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "f.csv:2:1: unterminated quoted field",
                "f.csv:3:6: text after a closing quote (a comma expected)"
            ]
        );
    }
}
