//! # server — the SIP server of itsp
//!
//! What SER's `registrar`, `usrloc`, `auth_db`, `tm`, `rr` and `maxfwd` did: a
//! [`Server`] that takes messages from the `transport` crate through the `sip` transaction
//! layer to a routing policy that reads like the seed's `ser.cfg`, with the location index
//! in memory written through to the `store`. The decisions themselves ([`registrar`],
//! [`auth`], [`location`], [`nat`]) are plain functions over parsed messages, tested
//! without sockets.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`run`] | [`Server`]: start (restore bindings, bind sockets), the receive/timer/housekeeping tasks, graceful stop |
//! | `core` | the shared state; a message's path: Via stamping, transaction layer, responses sent where §18.2.2 says |
//! | `policy` | the routing steps of the seed's `ser.cfg`: sanity, REGISTER, OPTIONS, authenticate, in-dialog, local users, foreign domains |
//! | [`proxy`] | the stateful proxy (§16): response contexts with forking and Timer C, request rewriting, the table of live contexts |
//! | [`pstn`] | telephone numbers to gateways with group permissions per destination class (the seed's `route[2]`) |
//! | `targets` | where a request goes: the next hops of a URI (RFC 3263), a binding's target |
//! | [`accounting`] | live calls and accounting records (Kamailio `dialog` + `acc`), written in batches |
//! | [`config`] | [`ServerConfig`] |
//! | [`domains`] | the served domains (SER's `myself`), cached from the store |
//! | [`persist`] | write-through of bindings to the store, batched; row conversion |
//! | `writer_thread` | a thread that writes queued items to the store in batches (group commit), for `persist` and `accounting` |
//! | [`trusted`] | trusted networks, not challenged (Kamailio `permissions`) |
//! | [`auth`] | digest policy: 401/407 challenges (SHA-256 and MD5), no user enumeration, `check_to`/`check_from` |
//! | [`cache`] | [`cache::VersionedCache`]: store answers kept in memory, forgotten when their table's change counter moves (checked once a second at most), bounded |
//! | [`credentials`] | the subscribers' HA1 values cached in front of the store (a `VersionedCache` of the subscribers) |
//! | [`forwarding`] | the subscribers' call forwarding cached in front of the store (a `VersionedCache` of the preferences) |
//! | [`location`] | the location service: address-of-record → bindings, in memory, q-ordered lookup, expiry |
//! | [`nat`] | the NAT test of the seed's `ser.cfg`: is a request from behind a NAT? |
//! | [`registrar`] | REGISTER processing (RFC 3261 §10.3): add, refresh, remove, `*`, query, limits, the 200 |
//! | [`stun_server`] | the STUN server (RFC 5389 Binding, RFC 5780 alternate port) on UDP 3478 |

pub mod accounting;
pub mod auth;
pub mod cache;
pub mod config;
mod core;
pub mod credentials;
pub mod domains;
pub mod forwarding;
pub mod location;
pub mod media_relay;
pub mod nat;
pub mod natping;
pub mod persist;
mod policy;
pub mod proxy;
pub mod pstn;
pub mod registrar;
pub mod run;
pub mod stun_server;
mod targets;
pub mod trusted;
mod writer_thread;

pub use auth::{check_identity, AuthKind, Decision, DigestAuth, Ha1s};
pub use config::{ProxyConfig, RelayBackend, RelaySettings, ServerConfig};
pub use core::{Source, SERVER};
pub use location::{aor_key, Binding, Change, Location};
pub use policy::{ALLOW, SUPPORTED};
pub use registrar::{ok_response, process_register, Arrival, RegistrarConfig};
pub use run::{Server, StartError, StartReport};
