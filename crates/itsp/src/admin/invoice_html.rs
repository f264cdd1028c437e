//! The HTML page of an invoice: one self-contained, printable file (the style inline, no
//! script, no image, nothing fetched), kept in the store as issued and written out by
//! `itsp invoice show --html FILE`.

use std::fmt::Write;

use portal::pages::esc as escape;

use super::invoice_sheet::Sheet;

/// The page of `sheet`.
pub(super) fn render(sheet: &Sheet<'_>) -> String {
    let mut page = String::new();
    let title = escape(&sheet.title());
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{title}</title>\n<style>\n{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n\
         <dl>\n"
    );
    for (name, value) in sheet.facts() {
        let _ = writeln!(page, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(&value));
    }
    page.push_str("</dl>\n<table>\n<thead><tr>");
    for (i, column) in sheet.columns().iter().enumerate() {
        let class = if i == 0 { "" } else { " class=\"n\"" };
        let _ = write!(page, "<th{class}>{}</th>", escape(column));
    }
    page.push_str("</tr></thead>\n<tbody>\n");
    let lines = sheet.lines();
    if lines.is_empty() {
        page.push_str("<tr><td colspan=\"4\">No calls.</td></tr>\n");
    }
    for line in lines {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(&line.destination),
            escape(&line.calls),
            escape(&line.time),
            escape(&line.amount)
        );
    }
    page.push_str("</tbody>\n<tfoot>\n");
    let totals = sheet.totals();
    let last = totals.len() - 1;
    for (i, (label, amount)) in totals.iter().enumerate() {
        let class = if i == last { " class=\"total\"" } else { "" };
        let _ = writeln!(
            page,
            "<tr{class}><td colspan=\"3\" class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            escape(label),
            escape(amount)
        );
    }
    let _ = write!(
        page,
        "</tfoot>\n</table>\n<p class=\"note\">{}</p>\n</body>\n</html>\n",
        escape(sheet.note())
    );
    page
}

/// The page's style: A4 print margins, a ruled table, numbers aligned right.
const STYLE: &str = "\
@page { size: A4; margin: 20mm; }
body { font-family: Helvetica, Arial, sans-serif; font-size: 11pt; color: #000; max-width: 48em; margin: 2em auto; }
h1 { font-size: 18pt; margin-bottom: 0.5em; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; margin: 0 0 1.5em; }
dt { font-weight: bold; }
dd { margin: 0; }
table { width: 100%; border-collapse: collapse; }
th, td { padding: 0.3em 0.5em; text-align: left; border-bottom: 1px solid #bbb; }
th { border-bottom: 2px solid #000; }
.n { text-align: right; font-variant-numeric: tabular-nums; }
tfoot td { border-bottom: none; }
tr.total td { font-weight: bold; border-top: 2px solid #000; }
.note { font-size: 9pt; color: #444; margin-top: 2em; }
";
