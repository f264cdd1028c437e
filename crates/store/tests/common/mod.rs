//! Shared by the integration tests: the backend-independent suite and the private
//! PostgreSQL cluster.

#![allow(dead_code, unreachable_pub)]

pub mod pg;
pub mod suite;

use store::Binding;

/// A binding of `aor` with every optional field empty.
pub fn binding(aor: &str, contact: &str, expires_at: i64, q: u16) -> Binding {
    Binding {
        aor: aor.to_owned(),
        contact: contact.to_owned(),
        expires_at,
        q,
        call_id: format!("call-{contact}"),
        cseq: 1,
        user_agent: String::new(),
        received: "192.0.2.7:5060".to_owned(),
        transport: "udp".to_owned(),
        local_socket: "udp:127.0.0.1:5060".to_owned(),
        path: None,
        instance: None,
        reg_id: None,
        flags: 0,
        updated_at: 1_000,
    }
}
