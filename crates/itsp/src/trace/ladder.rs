//! The call-flow ladder of `itsp trace`, as sngrep draws it: one column per address (in
//! the order they first appear), one arrow per message from its source to its
//! destination, labelled with the method (`INVITE (SDP)`) or the status (`180 Ringing`),
//! and the time on the left.
//!
//! ```text
//!                    127.0.0.1:40000         127.0.0.1:5060          127.0.0.1:40002
//!                           |                       |                       |
//! 10:00:00.123              |---- INVITE (SDP) ---->|                       |
//! 10:00:00.124              |                       |---- INVITE (SDP) ---->|
//! 10:00:00.130              |                       |<---- 180 Ringing -----|
//! ```

/// One arrow of the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Arrow {
    /// Shown on the left (`10:00:00.123`).
    pub(crate) time: String,
    /// The source column's address.
    pub(crate) from: String,
    /// The destination column's address.
    pub(crate) to: String,
    /// The label on the arrow.
    pub(crate) label: String,
}

/// Width of the time on the left, with its margin.
const TIME_WIDTH: usize = 14;
/// Distance between two columns.
const GAP: usize = 24;

/// The ladder of `arrows`, one line per arrow under a header of the addresses.
pub(crate) fn render(arrows: &[Arrow]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    for arrow in arrows {
        for address in [&arrow.from, &arrow.to] {
            if !columns.contains(&address.as_str()) {
                columns.push(address);
            }
        }
    }
    let center = |i: usize| TIME_WIDTH + GAP / 2 + i * GAP;
    let width = TIME_WIDTH + columns.len() * GAP;
    let mut out = String::new();

    let mut header = vec![' '; width];
    for (i, address) in columns.iter().enumerate() {
        let label: Vec<char> = address.chars().take(GAP - 2).collect();
        let start = center(i).saturating_sub(label.len() / 2);
        for (k, c) in label.into_iter().enumerate() {
            if let Some(cell) = header.get_mut(start + k) {
                *cell = c;
            }
        }
    }
    push_line(&mut out, &header);
    let mut rails = vec![' '; width];
    for i in 0..columns.len() {
        rails[center(i)] = '|';
    }
    push_line(&mut out, &rails);

    for arrow in arrows {
        let mut line = rails.clone();
        for (k, c) in arrow.time.chars().take(TIME_WIDTH - 1).enumerate() {
            line[k] = c;
        }
        let column = |a: &str| columns.iter().position(|c| *c == a).unwrap_or(0);
        let (from, to) = (column(&arrow.from), column(&arrow.to));
        if from == to {
            // A message to itself: a note beside its column.
            let note: String = format!(" {} (to itself)", arrow.label);
            put(&mut line, center(from) + 1, &note);
            push_line(&mut out, &line);
            continue;
        }
        let (left, right) = (center(from.min(to)), center(from.max(to)));
        for cell in &mut line[left + 1..right] {
            *cell = '-';
        }
        if to > from {
            line[right - 1] = '>';
        } else {
            line[left + 1] = '<';
        }
        // The label centred on the arrow, a space on each side, cut to fit.
        let room = right - left - 5;
        let label: String = arrow.label.chars().take(room).collect();
        let text = format!(" {label} ");
        let start = left + 1 + (right - left - 1 - text.chars().count()) / 2;
        put(&mut line, start, &text);
        push_line(&mut out, &line);
    }
    out
}

/// Writes `text` into `line` from `at`, widening the line when needed.
fn put(line: &mut Vec<char>, at: usize, text: &str) {
    for (k, c) in text.chars().enumerate() {
        match line.get_mut(at + k) {
            Some(cell) => *cell = c,
            None => line.push(c),
        }
    }
}

fn push_line(out: &mut String, line: &[char]) {
    let text: String = line.iter().collect();
    out.push_str(text.trim_end());
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrow(time: &str, from: &str, to: &str, label: &str) -> Arrow {
        Arrow {
            time: time.into(),
            from: from.into(),
            to: to.into(),
            label: label.into(),
        }
    }

    #[test]
    fn a_call_through_the_proxy() {
        let (a, p, b) = ("127.0.0.1:40000", "127.0.0.1:5060", "127.0.0.1:40002");
        let ladder = render(&[
            arrow("10:00:00.123", a, p, "INVITE (SDP)"),
            arrow("10:00:00.124", p, b, "INVITE (SDP)"),
            arrow("10:00:00.130", b, p, "180 Ringing"),
            arrow("10:00:00.131", p, a, "180 Ringing"),
            arrow(
                "10:00:00.200",
                p,
                a,
                "200 OK with a reason much too long to fit",
            ),
        ]);
        let expected = [
            "                   127.0.0.1:40000         127.0.0.1:5060          127.0.0.1:40002",
            "                          |                       |                       |",
            "10:00:00.123              |---- INVITE (SDP) ---->|                       |",
            "10:00:00.124              |                       |---- INVITE (SDP) ---->|",
            "10:00:00.130              |                       |<---- 180 Ringing -----|",
            "10:00:00.131              |<---- 180 Ringing -----|                       |",
            "10:00:00.200              |< 200 OK with a reaso -|                       |",
        ];
        assert_eq!(ladder.lines().collect::<Vec<_>>(), expected, "\n{ladder}");
    }

    #[test]
    fn arrows_span_columns_and_may_go_to_themselves() {
        let ladder = render(&[
            arrow("t", "A", "B", "x"),
            arrow("t", "C", "A", "BYE"),
            arrow("t", "B", "B", "OPTIONS"),
        ]);
        let lines: Vec<&str> = ladder.lines().collect();
        assert_eq!(
            lines[0],
            "                          A                       B                       C"
        );
        assert_eq!(
            lines[2],
            "t                         |---------- x --------->|                       |"
        );
        assert_eq!(
            lines[3],
            "t                         |<-------------------- BYE ---------------------|"
        );
        assert_eq!(
            lines[4],
            "t                         |                       | OPTIONS (to itself)   |"
        );
        assert!(render(&[]).trim().is_empty());
    }
}
