//! `itsp serve`: the SIP server loop. Receives from the transports, checks every request
//! (RFC 3261 §8.2, §16.3 via `sip::sanity`), answers what it can and sends the answers
//! where RFC 3261 §18.2.2 and RFC 3581 say.

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use sip::build::reject_unparsed;
use sip::sanity::{check_request, Policy};
use sip::{HeaderName, Message, MessageBuilder, Method};
use transport::{Incoming, Listen, Protocol, Transports};

/// The Server / User-Agent string itsp sends (RFC 3261 §20.35).
pub(crate) const SERVER: &str = concat!("itsp/", env!("CARGO_PKG_VERSION"));

/// Methods the server answers itself today.
const ALLOW: &str = "OPTIONS";

/// Options of `itsp serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Where to listen, as PROTO:ADDR:PORT (udp or tcp); repeat for several.
    /// Default: udp:0.0.0.0:5060 and tcp:0.0.0.0:5060.
    #[arg(long = "listen", value_name = "PROTO:ADDR:PORT")]
    listen: Vec<Listen>,
}

pub(crate) fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let listens = if args.listen.is_empty() {
        vec![
            "udp:0.0.0.0:5060".parse().map_err(anyhow::Error::msg)?,
            "tcp:0.0.0.0:5060".parse().map_err(anyhow::Error::msg)?,
        ]
    } else {
        args.listen
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(listens))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(listens: Vec<Listen>) -> anyhow::Result<()> {
    let (transports, mut incoming) = Transports::bind(&listens).await.context(
        "is another SIP server (or another itsp) running? choose other ports with --listen",
    )?;
    for l in transports.local_addrs() {
        tracing::info!(listen = %l, "listening");
    }
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            msg = incoming.recv() => {
                let Some(msg) = msg else { break };
                if let Some((answer, dest)) = answer(&msg) {
                    let sent = transports
                        .send(msg.local.protocol, Some(msg.local.addr), dest, answer.as_bytes().clone())
                        .await;
                    if let Err(e) = sent {
                        tracing::warn!(error = %e, "could not send the answer");
                    }
                }
            }
            () = &mut shutdown => {
                tracing::info!("shutting down");
                break;
            }
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// Decides the answer to one incoming message and where it goes. Pure: no I/O.
pub(crate) fn answer(incoming: &Incoming) -> Option<(Message, SocketAddr)> {
    let msg = match &incoming.message {
        Ok(msg) => msg,
        Err((error, bytes)) => {
            tracing::info!(source = %incoming.source, local = %incoming.local, %error, "malformed message");
            let resp = reject_unparsed(bytes, error)?;
            let dest = response_destination(&resp, incoming)?;
            return Some((resp, dest));
        }
    };
    let method = msg.method()?; // responses: no transactions of our own yet
    if *method == Method::Ack {
        return None; // ACK is never answered (§17.2.1)
    }
    let call_id = msg.call_id().unwrap_or("-");
    let resp = match check_request(msg, &Policy::PROXY) {
        Err(rejection) => {
            tracing::info!(source = %incoming.source, call_id, code = rejection.code, reason = %rejection.reason, "request refused");
            let mut b = MessageBuilder::response_to(
                msg,
                rejection.code,
                Some(&rejection.reason),
                Some(&local_tag(msg)),
            );
            if let Some((name, value)) = &rejection.header {
                b = b.header(*name, value);
            }
            b
        }
        Ok(()) if *method == Method::Options => {
            MessageBuilder::response_to(msg, 200, None, Some(&local_tag(msg)))
                .header(HeaderName::Allow, ALLOW)
                .header(HeaderName::Accept, "application/sdp")
        }
        Ok(()) => {
            tracing::info!(source = %incoming.source, call_id, %method, "method not served yet");
            MessageBuilder::response_to(msg, 501, None, Some(&local_tag(msg)))
                .header(HeaderName::Allow, ALLOW)
        }
    };
    let resp = match resp.header(HeaderName::Server, SERVER).build() {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(source = %incoming.source, error = %e, "cannot build the answer");
            return None;
        }
    };
    let dest = response_destination(&resp, incoming)?;
    Some((resp, dest))
}

/// A To tag for responses the server generates itself, stable for one request so that
/// retransmissions get the same tag (RFC 3261 §8.2.6.2).
fn local_tag(msg: &Message) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    msg.call_id().unwrap_or("").hash(&mut h);
    msg.from()
        .ok()
        .and_then(|f| f.tag())
        .unwrap_or("")
        .hash(&mut h);
    format!("{:016x}", h.finish())
}

/// Where a response goes (RFC 3261 §18.2.2, RFC 3581 §4): back on the connection for TCP;
/// for UDP to the source address, at the source port when the Via asked for `rport`, else
/// at the Via's sent-by port (default 5060).
fn response_destination(resp: &Message, incoming: &Incoming) -> Option<SocketAddr> {
    if incoming.local.protocol == Protocol::Tcp {
        return Some(incoming.source);
    }
    let via = resp.top_via().ok()?;
    let port = match via.rport() {
        Some(_) => incoming.source.port(),
        None => via.port.unwrap_or(5060),
    };
    Some(SocketAddr::new(incoming.source.ip(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(bytes: &'static [u8], protocol: Protocol) -> Incoming {
        let b = bytes::Bytes::from_static(bytes);
        Incoming {
            message: Message::parse(b.clone()).map_err(|e| (e, b)),
            source: "192.0.2.7:40000".parse().unwrap(),
            local: Listen {
                protocol,
                addr: "192.0.2.1:5060".parse().unwrap(),
            },
        }
    }

    const OPTIONS: &[u8] = b"OPTIONS sip:example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK-1;rport\r\n\
Max-Forwards: 70\r\nFrom: <sip:a@example.com>;tag=9\r\nTo: <sip:example.com>\r\n\
Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn options_is_answered_at_the_rport() {
        let (resp, dest) = answer(&incoming(OPTIONS, Protocol::Udp)).unwrap();
        assert_eq!(resp.status(), Some(200));
        assert_eq!(resp.header(HeaderName::Allow), Some("OPTIONS"));
        assert!(resp.to().unwrap().tag().is_some());
        assert_eq!(dest, "192.0.2.7:40000".parse().unwrap());
    }

    #[test]
    fn without_rport_the_via_port_is_used() {
        let (_, dest) = answer(&incoming(
            b"OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2:5062;branch=z9hG4bK-1\r\n\
From: <sip:a@example.com>;tag=9\r\nTo: <sip:example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\n\r\n",
            Protocol::Udp,
        ))
        .unwrap();
        assert_eq!(dest, "192.0.2.7:5062".parse().unwrap());
    }

    #[test]
    fn malformed_and_unknown() {
        let (resp, _) = answer(&incoming(
            b"INVITE sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\n\
From: <sip:a@example.com>;tag=9\r\nTo: <sip:b@example.com>\r\nCall-ID: c2\r\nCSeq: 1 BYE\r\n\r\n",
            Protocol::Tcp,
        ))
        .unwrap();
        assert_eq!(resp.status(), Some(400));
        assert_eq!(
            resp.reason(),
            Some("Bad CSeq header: method does not match the request line")
        );
        let (resp, _) = answer(&incoming(
            b"REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK3\r\n\
From: <sip:a@example.com>;tag=9\r\nTo: <sip:a@example.com>\r\nCall-ID: c3\r\nCSeq: 1 REGISTER\r\n\r\n",
            Protocol::Udp,
        ))
        .unwrap();
        assert_eq!(resp.status(), Some(501));
        assert!(answer(&incoming(
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h\r\n\r\n",
            Protocol::Udp
        ))
        .is_none());
    }
}
