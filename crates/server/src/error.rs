//! [`StartError`]: why the server could not start.

use store::StoreError;
use transport::TransportError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// The store failed (cannot read bindings, cannot add a domain).
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A socket could not be bound.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// The operating system gave no random bytes for the nonce secret.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
    /// A thread of the server (a store writer) could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(std::io::Error),
    /// The in-process RTP relay could not start (bad port range).
    #[error("RTP relay: {0}")]
    Relay(#[from] relay::RelayError),
    /// The capture's pcap files or HEP export could not be set up (`[capture]`).
    #[error("capture: {0}")]
    Capture(String),
}
