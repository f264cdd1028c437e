//! The STUN server of `itsp serve` (RFC 5389 Binding; the KTH provider of seed 000 ran one
//! beside SER so that phones could find their public address): STUN-capable
//! phones learn their public address from it and fix NAT themselves; `itsp nat check`
//! uses it to tell a user what kind of NAT they are behind (RFC 5780).
//!
//! Each configured address gets two UDP sockets: the primary (default port 3478) and an
//! alternate on the next port, named in OTHER-ADDRESS and used for CHANGE-REQUEST "change
//! port" (RFC 5780 §6.1). The decisions are `stun::answer`; this module only moves
//! datagrams.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use stun::ResponseSocket;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;

/// The default STUN port (RFC 5389 §18.4).
pub const DEFAULT_STUN_PORT: u16 = 3478;

/// A STUN socket that could not be bound.
#[derive(Debug, thiserror::Error)]
#[error("cannot listen for STUN on udp:{addr}{which}")]
pub struct StunBindError {
    /// The address.
    pub addr: SocketAddr,
    /// " (the alternate port)" for the second socket, else empty.
    which: &'static str,
    /// Why.
    #[source]
    pub source: io::Error,
}

/// A pair of bound sockets: the primary and the alternate on the next port.
#[derive(Debug, Clone)]
struct SocketPair {
    primary: Arc<UdpSocket>,
    alternate: Option<Arc<UdpSocket>>,
}

/// The bound STUN sockets; [`StunServer::run`] answers on them.
#[derive(Debug)]
pub struct StunServer {
    pairs: Vec<SocketPair>,
}

/// The addresses one configured STUN address is served on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StunAddrs {
    /// The primary socket (the port the OS chose for port 0).
    pub primary: SocketAddr,
    /// The alternate socket (primary port + 1, or an OS-chosen port when the primary's was
    /// 0); `None` when the primary is on port 65535.
    pub alternate: Option<SocketAddr>,
}

impl StunServer {
    /// Binds the primary socket of each address and its alternate on the next port.
    pub async fn bind(listens: &[SocketAddr]) -> Result<StunServer, StunBindError> {
        let mut pairs = Vec::with_capacity(listens.len());
        for &addr in listens {
            let primary = UdpSocket::bind(addr)
                .await
                .map_err(|source| StunBindError {
                    addr,
                    which: "",
                    source,
                })?;
            let bound = primary.local_addr().map_err(|source| StunBindError {
                addr,
                which: "",
                source,
            })?;
            let alternate_port = if addr.port() == 0 {
                Some(0)
            } else {
                bound.port().checked_add(1)
            };
            let alternate = match alternate_port {
                Some(port) => {
                    let alt = SocketAddr::new(addr.ip(), port);
                    let socket = UdpSocket::bind(alt).await.map_err(|source| StunBindError {
                        addr: alt,
                        which: " (the alternate port)",
                        source,
                    })?;
                    Some(Arc::new(socket))
                }
                None => None,
            };
            pairs.push(SocketPair {
                primary: Arc::new(primary),
                alternate,
            });
        }
        Ok(StunServer { pairs })
    }

    /// The addresses bound.
    pub fn local_addrs(&self) -> Vec<StunAddrs> {
        self.pairs
            .iter()
            .filter_map(|p| {
                Some(StunAddrs {
                    primary: p.primary.local_addr().ok()?,
                    alternate: p.alternate.as_ref().and_then(|a| a.local_addr().ok()),
                })
            })
            .collect()
    }

    /// Answers requests on every socket until the task is dropped or aborted.
    pub async fn run(self) {
        let mut tasks = JoinSet::new();
        for pair in self.pairs {
            if let Some(alternate) = &pair.alternate {
                tasks.spawn(serve(alternate.clone(), Some(pair.primary.clone())));
                tasks.spawn(serve(pair.primary.clone(), Some(alternate.clone())));
            } else {
                tasks.spawn(serve(pair.primary.clone(), None));
            }
        }
        while tasks.join_next().await.is_some() {}
    }
}

/// The receive loop of `socket`; `other` is the socket of the same pair on the other port.
async fn serve(socket: Arc<UdpSocket>, other: Option<Arc<UdpSocket>>) {
    let Ok(local) = socket.local_addr() else {
        return;
    };
    let other_addr = other.as_ref().and_then(|o| o.local_addr().ok());
    let mut buf = vec![0u8; 2048];
    loop {
        let (n, source) = match socket.recv_from(&mut buf).await {
            Ok(r) => r,
            Err(e) => {
                // ICMP errors of earlier sends show up here on some systems; keep serving.
                tracing::debug!(error = %e, %local, "STUN receive error");
                continue;
            }
        };
        let Some(response) = stun::answer(&buf[..n], source, local, other_addr) else {
            tracing::debug!(%source, %local, bytes = n, "not a STUN request; ignored");
            continue;
        };
        let sender = match (response.from, &other) {
            (ResponseSocket::Other, Some(other)) => other,
            _ => &socket,
        };
        tracing::debug!(%source, to = %response.to, %local, "STUN Binding answered");
        if let Err(e) = sender.send_to(&response.bytes, response.to).await {
            tracing::debug!(error = %e, to = %response.to, "STUN send failed");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::time::Duration;
    use stun::{binding_request, parse_binding_response, ChangeRequest, StunError, TransactionId};

    async fn exchange(
        client: &UdpSocket,
        to: SocketAddr,
        id: [u8; 12],
        change: ChangeRequest,
    ) -> (SocketAddr, Result<Option<stun::BindingResponse>, StunError>) {
        client
            .send_to(&binding_request(TransactionId(id), change), to)
            .await
            .unwrap();
        let mut buf = [0u8; 1500];
        let (n, from) = tokio::time::timeout(Duration::from_secs(5), client.recv_from(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        (from, parse_binding_response(&buf[..n], TransactionId(id)))
    }

    #[tokio::test]
    async fn answers_on_both_ports_and_changes_port_on_request() {
        let server = StunServer::bind(&["127.0.0.1:0".parse().unwrap()])
            .await
            .unwrap();
        let addrs = server.local_addrs()[0];
        let alternate = addrs.alternate.unwrap();
        assert_ne!(addrs.primary, alternate);
        let task = tokio::spawn(server.run());
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let me = client.local_addr().unwrap();

        let (from, r) = exchange(&client, addrs.primary, [1; 12], ChangeRequest::NONE).await;
        let r = r.unwrap().unwrap();
        assert_eq!(from, addrs.primary);
        assert_eq!(r.mapped, me);
        assert_eq!(r.response_origin, Some(addrs.primary));
        assert_eq!(r.other_address, Some(alternate));

        let (from, r) = exchange(&client, alternate, [2; 12], ChangeRequest::NONE).await;
        assert_eq!(from, alternate);
        assert_eq!(r.unwrap().unwrap().other_address, Some(addrs.primary));

        let (from, r) = exchange(&client, addrs.primary, [3; 12], ChangeRequest::PORT).await;
        assert_eq!(from, alternate, "change port answers from the other socket");
        assert_eq!(r.unwrap().unwrap().response_origin, Some(alternate));

        let (_, r) = exchange(&client, addrs.primary, [4; 12], ChangeRequest::IP_AND_PORT).await;
        match r {
            Err(StunError::ErrorResponse { code: 420, .. }) => {}
            other => panic!("{other:?}"),
        }
        task.abort();
    }

    #[tokio::test]
    async fn a_busy_port_is_named() {
        let taken = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = StunServer::bind(&[addr]).await.unwrap_err();
        assert!(
            e.to_string()
                .contains(&format!("cannot listen for STUN on udp:{addr}")),
            "{e}"
        );
        // The alternate port taken: named as such.
        let primary = SocketAddr::new(addr.ip(), addr.port() - 1);
        if std::net::UdpSocket::bind(primary).is_ok() {
            let e = StunServer::bind(&[primary]).await.unwrap_err();
            assert!(e.to_string().contains("alternate port"), "{e}");
        }
    }
}
