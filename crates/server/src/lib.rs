//! # server — the SIP server logic of itsp
//!
//! What SER's `registrar`, `usrloc` and (as they land) `tm`/`rr` routing did: decisions over
//! parsed messages, without sockets. The `itsp` binary wires these to the transports and
//! the store.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`auth`] | digest policy: 401/407 challenges (SHA-256 and MD5), no user enumeration, `check_to`/`check_from` |
//! | [`location`] | the location service: address-of-record → bindings, in memory, q-ordered lookup, expiry |
//! | [`registrar`] | REGISTER processing (RFC 3261 §10.3): add, refresh, remove, `*`, query, limits, the 200 |

pub mod auth;
pub mod location;
pub mod registrar;

pub use auth::{check_identity, AuthKind, Decision, DigestAuth, Ha1s};
pub use location::{aor_key, Binding, Change, Location};
pub use registrar::{ok_response, process_register, Arrival, RegistrarConfig};
