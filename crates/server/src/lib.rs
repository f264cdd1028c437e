//! # server — the SIP server of itsp
//!
//! What SER's `registrar`, `usrloc`, `auth_db`, `tm`, `rr`, `maxfwd`, `nathelper`, `acc`
//! and `dialog` did, in two layers (the split of `quinn-proto` and `quinn`):
//!
//! - `engine`: a sans-IO core — transactions, the proxy's contexts, the location index,
//!   digest checks, keepalive bookkeeping — driven by `handle(now, message)`,
//!   `handle_timeout(now)`, `poll_transmit()`, `poll_timeout()`, and by explicit requests
//!   for I/O (`poll_io()`) whose answers come back through `complete()`. Its tests run on
//!   a simulated clock and network.
//! - [`Server`] (`shell.rs`): the tokio shell that owns the sockets, the store, DNS, the
//!   relay and the writer threads, and carries out what the engine asks.
//!
//! Routing policy is a set of phases (`policy`): the main route, which reads like the
//! seed's `ser.cfg`, and one hook per cross-cutting feature (NAT, media relay,
//! prepaid billing, accounting, capture, metrics).
//!
//! Modules are public only where `itsp` needs their settings types; the engine, the
//! policy and the writers are the crate's own.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | `engine` | the sans-IO engine: the path of a message, I/O requests and answers, caches of store answers |
//! | `shell` | [`Server`]: start (restore bindings, bind sockets), the tasks that drive the engine, graceful stop |
//! | `policy` | the main route and the phase hooks (`Hook`) |
//! | [`proxy`] | the stateful proxy (§16): response contexts with forking and Timer C, request rewriting, the table of live contexts |
//! | [`nat`] | NAT detection and fixes (`nat_uac_test`, `fix_nated_contact`), the NAT hook |
//! | [`media_relay`] | the relay hook: which calls are relayed, SDP exchanges through the relay |
//! | `accounting` | the accounting hook (live calls, `acc` records) and its writer thread |
//! | `billing` | prepaid calls: authorisation (402 without credit), slices of credit, the hang-up when it runs out; who pays how (`AccountBook`) |
//! | [`capture`] | SIP capture: the tap into a bounded ring; pcap files, HEP v3 export, trace filters |
//! | [`control`] | the control socket of a running server (`itsp trace`): JSON lines over a Unix socket |
//! | [`metrics`] | Prometheus metrics: the tap counting messages by method and code, dialog events, gauges read from the engine, relay, writers, DNS, process; the text format |
//! | `natping` | keepalives to NATed bindings |
//! | [`rating`] | the plans of the stored tariff files; the price put on each answered call's record |
//! | [`pstn`] | telephone numbers to gateways with group permissions per destination class (the seed's `route[2]`) |
//! | [`services`] | media services as addresses: service names and short codes to the media service UA, deposit and announcement targets |
//! | `voicemail` | the voicemail hook (`on_failure`): failed calls of subscribers with voicemail on to their mailbox |
//! | `targets` | where a request goes: the next hops of a URI (RFC 3263), a binding's target |
//! | [`config`] | [`ServerConfig`] |
//! | `domains` | how served domains are compared |
//! | `persist` | write-through of bindings to the store, batched; row conversion |
//! | `writer_thread` | a thread that writes queued items to the store in batches (group commit) |
//! | [`guard`] | in front of the route: banned sources, failed authentications (growing bans), request floods (pike); bounded memory |
//! | [`trusted`] | trusted networks, not challenged (Kamailio `permissions`) |
//! | [`auth`] | digest policy: 401/407 challenges (MD5 by default, SHA-256 when configured), no user enumeration, `check_to`/`check_from` |
//! | [`cache`] | [`cache::Entries`]: store answers kept in memory, forgotten when their table's change counter moves, bounded |
//! | `location` | the location service: address-of-record → bindings, in memory, q-ordered lookup, expiry |
//! | `registration_log` | the operator's lines about registrations: registered, refreshed with a new contact or from a new address, unregistered, expired |
//! | [`registrar`] | REGISTER processing (RFC 3261 §10.3): add, refresh, remove, `*`, query, limits, the 200 |
//! | [`stun_server`] | the STUN server (RFC 5389 Binding, RFC 5780 alternate port) on UDP 3478 |
//! | `sync` | a mutex lock that survives poisoning |
//! | `sip_text` | the `Server` header value and the To tag of our own responses |
//! | `error` | [`StartError`] |

pub(crate) mod accounting;
pub mod auth;
mod billing;
pub mod cache;
pub mod capture;
pub mod config;
pub mod control;
pub(crate) mod domains;
pub(crate) mod engine;
mod error;
pub mod guard;
mod location;
pub mod media_relay;
pub mod metrics;
pub mod nat;
pub(crate) mod natping;
pub(crate) mod persist;
mod policy;
pub mod proxy;
pub mod pstn;
pub mod rating;
pub mod registrar;
pub(crate) mod registration_log;
pub mod services;
mod shell;
mod sip_text;
pub mod stun_server;
mod sync;
mod targets;
pub mod trusted;
mod voicemail;
mod writer_thread;

pub use auth::{check_identity, AuthKind, Decision, DigestAuth, Ha1s};
pub use config::{
    OnNet, ProxyConfig, RelayBackend, RelaySettings, ServerConfig, UnknownUserAnswer,
};
pub use engine::overload::OverloadLimits;
pub use error::StartError;
pub use location::{aor_key, Binding, Change, Location};
pub use metrics::Metrics;
pub use policy::route::{ALLOW, SUPPORTED};
pub use registrar::{ok_response, process_register, Arrival, RegistrarConfig};
pub use services::ServicesConfig;
pub use shell::{
    BindingsReloader, LiveCalls, Reloaded, Reloader, Server, StartReport, WebSocketEntry,
};
pub use sip_text::DEFAULT_SERVER_HEADER;
