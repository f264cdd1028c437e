//! UDP receive loop: one datagram is one message (RFC 3261 §18.3; octets past
//! Content-Length are ignored by the parser).

use std::sync::Arc;

use bytes::Bytes;
use tokio::net::UdpSocket;

use crate::blocklist::Blocklist;
use crate::{hand_over, Deliver, Incoming, Listen};

/// Largest datagram accepted (the IPv4 UDP payload limit).
const MAX_DATAGRAM: usize = 65_535;

pub(crate) async fn receive_loop(
    socket: Arc<UdpSocket>,
    local: Listen,
    deliver: Deliver,
    blocklist: Arc<Blocklist>,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, source) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors from earlier sends surface here on some systems; keep going.
                tracing::debug!(%local, error = %e, "udp receive error");
                continue;
            }
        };
        // A blocked source's datagram is dropped before it costs a parse.
        if blocklist.blocks(source.ip()) {
            continue;
        }
        let datagram = &buf[..len];
        // RFC 5626 §4.4.2 STUN keepalives and CRLF pings over UDP carry no message.
        if datagram.iter().all(|b| matches!(b, b'\r' | b'\n' | 0)) {
            continue;
        }
        let bytes = Bytes::copy_from_slice(datagram);
        let message = sip::Message::parse(bytes.clone()).map_err(|e| (e, bytes));
        // The handling runs here up to its first wait before the next datagram is read,
        // so two read back to back (a 180 and a 200) are handled in that order.
        hand_over(
            &deliver,
            Incoming {
                message,
                source,
                local,
            },
        )
        .await;
    }
}
