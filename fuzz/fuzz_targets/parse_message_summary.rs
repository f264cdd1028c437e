//! Fuzzes `sip::message_summary::MessageSummary::parse` (the RFC 3842 message-waiting body
//! `itsp phone` reads from a NOTIFY) on arbitrary text: an error names a line within the
//! body, never a panic; an accepted summary writes back to a body that reads back to the
//! same summary.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sip::message_summary::MessageSummary;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match MessageSummary::parse(&text) {
        Ok(summary) => {
            let again = MessageSummary::parse(&summary.to_body()).expect("our own body");
            // Values are written trimmed; what was read is what is written.
            assert_eq!(again.waiting, summary.waiting);
            assert_eq!(again.classes, summary.classes);
            assert_eq!(again.account, summary.account);
        }
        Err(e) => assert!(e.line >= 1 && e.line <= text.split('\n').count().max(1)),
    }
});
