//! The served domains (SER's `myself` and `domain` module): which hosts in a Request-URI,
//! To or From are ours. The list lives in the store (`itsp domain add`); the engine keeps it
//! in memory (`engine/facts.rs`), asks the store on a miss so a domain added while the
//! server runs is served at once, and the shell reloads the whole list now and then so
//! removed ones stop being served. Hosts are compared in the form [`normalize`] gives.

/// The comparable form of a host: lower case, no trailing dot (RFC 3261 §19.1.4).
pub(crate) fn normalize(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}
