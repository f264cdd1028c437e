//! What the phone prints: progress a person reads ("ringing", "answered", "hung up by
//! remote") or, with `--json`, one JSON object per line for scripts. Logs go to stderr;
//! this goes to stdout.

use std::io::Write;
use std::time::Instant;

use serde_json::{json, Map, Value};

/// Prints events as text or JSON lines.
#[derive(Debug)]
pub struct Reporter {
    json: bool,
    start: Instant,
}

impl Reporter {
    /// A reporter; `json` selects JSON lines.
    pub fn new(json: bool) -> Reporter {
        Reporter {
            json,
            start: Instant::now(),
        }
    }

    /// Whether output is JSON.
    pub fn is_json(&self) -> bool {
        self.json
    }

    /// Reports `event` with a human sentence and structured fields (an object).
    pub fn event(&self, event: &str, text: &str, fields: Value) {
        let mut out = std::io::stdout().lock();
        if self.json {
            let mut obj = Map::new();
            obj.insert("event".into(), json!(event));
            obj.insert(
                "t".into(),
                json!((self.start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0),
            );
            if let Value::Object(more) = fields {
                obj.extend(more);
            }
            let _ = writeln!(out, "{}", Value::Object(obj));
        } else {
            let _ = writeln!(out, "{text}");
        }
        let _ = out.flush();
    }
}
