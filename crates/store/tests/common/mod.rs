//! Shared by the integration tests: the backend-independent suite and the private
//! PostgreSQL cluster.

#![allow(dead_code, unreachable_pub)]

pub mod accounts;
pub mod invoices;
pub mod pg;
pub mod suite;

use store::{AccEvent, AccKind, Binding, Call, CallState};

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

/// An INVITE event from `caller` to `callee` (both `user@domain`) at `time_ms`.
pub fn acc_event(
    time_ms: i64,
    kind: AccKind,
    call_id: &str,
    caller: &str,
    callee: &str,
) -> AccEvent {
    let split = |a: &str| {
        let (u, d) = a.split_once('@').unwrap();
        (Some(u.to_owned()), Some(d.to_owned()))
    };
    let (caller_user, caller_domain) = split(caller);
    let (callee_user, callee_domain) = split(callee);
    AccEvent {
        time_ms,
        kind,
        method: "INVITE".to_owned(),
        call_id: call_id.to_owned(),
        from_tag: format!("from-{call_id}"),
        to_tag: None,
        code: None,
        reason: None,
        caller_user,
        caller_domain,
        callee_user,
        callee_domain,
        source_ip: Some("192.0.2.7".to_owned()),
        ended_by: None,
    }
}

/// A ringing call handled by `node`.
pub fn call(call_id: &str, from_tag: &str, started_ms: i64, node: &str) -> Call {
    Call {
        call_id: call_id.to_owned(),
        from_tag: from_tag.to_owned(),
        to_tag: None,
        state: CallState::Early,
        caller: "sip:alice@example.com".to_owned(),
        callee: "sip:bob@example.com".to_owned(),
        source_ip: Some("192.0.2.7".to_owned()),
        started_ms,
        answered_ms: None,
        node: node.to_owned(),
    }
}
