//! The PDF of an invoice, made in-process with `pdf-writer` (no browser, no external
//! program): A4 pages with the heading, the table of lines (continued on further pages when
//! long, its column titles repeated) and the totals. The text is set in the standard
//! Helvetica and Helvetica-Bold fonts, which every PDF reader has, so no font file is
//! embedded; they are encoded as WinAnsi, so a character outside Latin-1 (and the euro
//! sign and dashes, which WinAnsi adds) is printed as `?`. Numbers are right-aligned with
//! Helvetica's glyph widths (the Adobe metrics, below).

use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str, TextStr};

use super::invoice_sheet::Sheet;

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 56.0;
const RIGHT: f32 = PAGE_WIDTH - MARGIN;
const ROW: f32 = 16.0;
const TEXT_SIZE: f32 = 10.0;
/// The right edges of the calls, talk time and amount columns.
const COLUMN_RIGHTS: [f32; 3] = [350.0, 430.0, RIGHT];
/// The longest destination shown, in characters (a longer one is cut with `...`).
const DESTINATION_CHARS: usize = 50;
/// The lowest baseline of a table row.
const BOTTOM: f32 = 110.0;

const REGULAR: Name<'static> = Name(b"F1");
const BOLD: Name<'static> = Name(b"F2");

/// The PDF of `sheet`.
pub(super) fn render(sheet: &Sheet<'_>) -> Vec<u8> {
    let mut pages: Vec<Content> = Vec::new();
    let mut page = Content::new();
    let mut y = heading(&mut page, sheet);
    y = table_head(&mut page, sheet, y);
    let lines = sheet.lines();
    if lines.is_empty() {
        text(&mut page, REGULAR, TEXT_SIZE, MARGIN, y, "No calls.");
        y -= ROW;
    }
    for line in &lines {
        if y < BOTTOM {
            pages.push(std::mem::replace(&mut page, Content::new()));
            y = table_head(&mut page, sheet, PAGE_HEIGHT - MARGIN - 20.0);
        }
        text(
            &mut page,
            REGULAR,
            TEXT_SIZE,
            MARGIN,
            y,
            &cut(&line.destination),
        );
        for (cell, right) in [&line.calls, &line.time, &line.amount]
            .into_iter()
            .zip(COLUMN_RIGHTS)
        {
            right_aligned(&mut page, REGULAR, TEXT_SIZE, right, y, cell);
        }
        y -= ROW;
    }
    // The totals and the note need four rows and a gap.
    if y - 5.0 * ROW < BOTTOM - 2.0 * ROW {
        pages.push(std::mem::replace(&mut page, Content::new()));
        y = PAGE_HEIGHT - MARGIN - 20.0;
    }
    rule(&mut page, y + ROW - 4.0, 1.0);
    let totals = sheet.totals();
    let last = totals.len() - 1;
    for (i, (label, amount)) in totals.iter().enumerate() {
        let font = if i == last { BOLD } else { REGULAR };
        if i == last {
            rule(&mut page, y + ROW - 4.0, 0.5);
        }
        right_aligned(&mut page, font, TEXT_SIZE, COLUMN_RIGHTS[1], y, label);
        right_aligned(&mut page, font, TEXT_SIZE, RIGHT, y, amount);
        y -= ROW;
    }
    text(&mut page, REGULAR, 8.0, MARGIN, y - ROW, sheet.note());
    pages.push(page);
    document(sheet, pages)
}

/// The title and the facts at the top of the first page; answers the baseline below them.
fn heading(page: &mut Content, sheet: &Sheet<'_>) -> f32 {
    let mut y = PAGE_HEIGHT - MARGIN - 10.0;
    text(page, BOLD, 20.0, MARGIN, y, &sheet.title());
    y -= 32.0;
    for (name, value) in sheet.facts() {
        text(page, BOLD, TEXT_SIZE, MARGIN, y, name);
        text(page, REGULAR, TEXT_SIZE, MARGIN + 95.0, y, &value);
        y -= ROW;
    }
    y - 20.0
}

/// The column titles at `y` with a rule below; answers the first row's baseline.
fn table_head(page: &mut Content, sheet: &Sheet<'_>, y: f32) -> f32 {
    let [destination, calls, time, amount] = sheet.columns();
    text(page, BOLD, TEXT_SIZE, MARGIN, y, &destination);
    for (title, right) in [calls, time, amount].iter().zip(COLUMN_RIGHTS) {
        right_aligned(page, BOLD, TEXT_SIZE, right, y, title);
    }
    rule(page, y - 5.0, 1.0);
    y - ROW - 4.0
}

/// Assembles the pages into a PDF: catalog, page tree, the two fonts, the document's title.
fn document(sheet: &Sheet<'_>, pages: Vec<Content>) -> Vec<u8> {
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let regular = Ref::new(3);
    let bold = Ref::new(4);
    let info = Ref::new(5);
    let first_page = 6;
    let page_ids: Vec<(Ref, Ref)> = (0..pages.len())
        .map(|i| {
            let n = first_page + 2 * i32::try_from(i).unwrap_or(i32::MAX / 4);
            (Ref::new(n), Ref::new(n + 1))
        })
        .collect();
    let mut pdf = Pdf::new();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree)
        .kids(page_ids.iter().map(|(page, _)| *page))
        .count(i32::try_from(page_ids.len()).unwrap_or(i32::MAX));
    for (id, name) in [(regular, "Helvetica"), (bold, "Helvetica-Bold")] {
        pdf.type1_font(id)
            .base_font(Name(name.as_bytes()))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
    }
    let title = sheet.title();
    pdf.document_info(info)
        .title(TextStr(&title))
        .producer(TextStr("itsp"));
    for ((page_id, content_id), content) in page_ids.iter().zip(pages) {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT))
            .parent(tree)
            .contents(*content_id);
        page.resources()
            .fonts()
            .pair(REGULAR, regular)
            .pair(BOLD, bold);
        page.finish();
        pdf.stream(*content_id, &content.finish());
    }
    pdf.finish()
}

/// Writes `s` with its baseline starting at (`x`, `y`).
fn text(page: &mut Content, font: Name<'_>, size: f32, x: f32, y: f32, s: &str) {
    page.begin_text()
        .set_font(font, size)
        .set_text_matrix([1.0, 0.0, 0.0, 1.0, x, y])
        .show(Str(&win_ansi(s)))
        .end_text();
}

/// Writes `s` ending at `right`.
fn right_aligned(page: &mut Content, font: Name<'_>, size: f32, right: f32, y: f32, s: &str) {
    text(page, font, size, right - width(s, size), y, s);
}

/// A horizontal line across the text width at `y`.
fn rule(page: &mut Content, y: f32, thickness: f32) {
    page.set_line_width(thickness)
        .move_to(MARGIN, y)
        .line_to(RIGHT, y)
        .stroke();
}

/// `s` cut to [`DESTINATION_CHARS`].
fn cut(s: &str) -> String {
    if s.chars().count() <= DESTINATION_CHARS {
        return s.to_owned();
    }
    let kept: String = s.chars().take(DESTINATION_CHARS - 3).collect();
    format!("{kept}...")
}

/// `s` in WinAnsiEncoding: ASCII and Latin-1 as they are, the euro sign and dashes at
/// their WinAnsi codes, control characters as spaces, anything else `?`.
fn win_ansi(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            '\u{20ac}' => 0x80,
            '\u{2013}' => 0x96,
            '\u{2014}' => 0x97,
            c if c.is_control() => b' ',
            c => u8::try_from(u32::from(c))
                .ok()
                .filter(|b| !(0x80..0xa0).contains(b))
                .unwrap_or(b'?'),
        })
        .collect()
}

/// The width of `s` in Helvetica at `size` points.
fn width(s: &str, size: f32) -> f32 {
    let units: u32 = s
        .chars()
        .map(|c| {
            u32::from(c)
                .checked_sub(32)
                .and_then(|i| HELVETICA_WIDTHS.get(i as usize))
                .map_or(556, |&w| u32::from(w))
        })
        .sum();
    units as f32 * size / 1000.0
}

/// Helvetica's advance widths of the printable ASCII characters (32 to 126), in 1/1000 of
/// the font size: Adobe's AFM metrics of the standard font.
const HELVETICA_WIDTHS: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, // ' '../
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, // 0..?
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, // @..O
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556, // P.._
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, // `..o
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, // p..~
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_encoded_for_the_standard_fonts() {
        assert_eq!(
            win_ansi("Zürich €5 – ok\u{1b}"),
            b"Z\xfcrich \x805 \x96 ok "
        );
        assert_eq!(win_ansi("東京"), b"??");
        // "0.89": three digits and a full stop at 10 pt.
        assert!((width("0.89", 10.0) - 19.46).abs() < 0.001);
        assert_eq!(cut(&"x".repeat(60)).len(), DESTINATION_CHARS);
    }

    #[test]
    fn a_long_invoice_goes_on_over_pages() {
        let invoice = store::Invoice {
            number: "2026-11-0001".into(),
            series: "2026-11".into(),
            address: store::Address::parse("alice@example.com").unwrap_or_else(|_| unreachable!()),
            period_start_ms: 0,
            period_end_ms: 1,
            currency: "EUR".into(),
            subtotal: billing::Decimal::ZERO,
            tax_rate: billing::Decimal::ZERO,
            tax: billing::Decimal::ZERO,
            total: billing::Decimal::ZERO,
            issued_ms: 0,
        };
        let pages = |n: usize| {
            let lines: Vec<store::InvoiceLine> = (0..n)
                .map(|i| store::InvoiceLine {
                    destination: format!("destination {i}"),
                    prefix: String::new(),
                    calls: 1,
                    seconds: 1,
                    amount: billing::Decimal::ZERO,
                })
                .collect();
            let pdf = render(&Sheet {
                invoice: &invoice,
                lines: &lines,
            });
            let text = String::from_utf8_lossy(&pdf).into_owned();
            text.split("/Count ")
                .nth(1)
                .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse::<usize>().ok())
        };
        assert_eq!(pages(0), Some(1));
        assert_eq!(pages(20), Some(1));
        assert_eq!(pages(100), Some(3));
    }
}
