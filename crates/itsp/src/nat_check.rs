//! `itsp nat check --stun HOST[:PORT]`: is this machine behind a NAT, and of what kind?
//! The "am I behind NAT?" self-check of the seed's customer support system, done with the
//! STUN server of `itsp serve` and the behaviour tests of RFC 5780 §4:
//!
//! - Binding from one local socket to the server: the mapped address equals the local one
//!   → no NAT (§4.3 test I);
//! - the same socket to the server's other port (OTHER-ADDRESS): the same mapped address
//!   → endpoint-independent mapping, another one → address-and-port-dependent ("symmetric",
//!   §4.3 tests II/III with the server's one IP);
//! - from a fresh socket, a CHANGE-REQUEST "change port" (§4.4 test III): an answer from the
//!   other port comes in → the NAT lets in packets from ports it did not send to, no answer
//!   → address-and-port-dependent filtering.
//!
//! Exit status: 0 with a verdict, 1 when the check could not be made (no answer, name not
//! found), 2 for bad arguments.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde_json::json;
use stun::{
    binding_request, parse_binding_response, BindingResponse, ChangeRequest, StunError,
    TransactionId,
};
use tokio::net::UdpSocket;

/// `itsp nat ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum NatCommand {
    /// Ask a STUN server whether this machine is behind a NAT, and what kind: how it maps
    /// addresses (RFC 5780 §4.3) and filters answers (§4.4), and what that means for calls.
    ///
    /// Exit status 0 with a verdict, 1 when the check failed (no answer, unknown host), 2
    /// for bad arguments. Example: itsp nat check --stun sip.example.com
    Check(CheckArgs),
}

/// Options of `itsp nat check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The STUN server, HOST or HOST:PORT (default port 3478), e.g. the `itsp serve` host.
    #[arg(long, value_name = "HOST[:PORT]")]
    stun: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
    /// How long to wait for each answer, in milliseconds (retransmitted in between).
    #[arg(long, value_name = "MS", default_value_t = 3000, value_parser = clap::value_parser!(u64).range(100..=60000))]
    timeout_ms: u64,
}

/// How a NAT maps a private address to public ones (RFC 4787 §4.1, RFC 5780 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mapping {
    /// No NAT: the mapped address is the local one.
    None,
    /// The same public address toward every destination.
    EndpointIndependent,
    /// A new public address per destination ("symmetric").
    AddressAndPortDependent,
    /// The server has no other port to compare with.
    Unknown,
}

impl Mapping {
    fn name(self) -> &'static str {
        match self {
            Mapping::None => "none",
            Mapping::EndpointIndependent => "endpoint-independent",
            Mapping::AddressAndPortDependent => "address-and-port-dependent",
            Mapping::Unknown => "unknown",
        }
    }
}

/// Which answers come in (RFC 4787 §5, RFC 5780 §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filtering {
    /// An answer from a port we did not send to came in.
    NotPortDependent,
    /// Only answers from the address and port we sent to come in.
    AddressAndPortDependent,
    /// The server cannot answer from another port.
    Unknown,
}

impl Filtering {
    fn name(self) -> &'static str {
        match self {
            Filtering::NotPortDependent => "endpoint-independent or address-dependent",
            Filtering::AddressAndPortDependent => "address-and-port-dependent",
            Filtering::Unknown => "unknown",
        }
    }
}

pub(crate) fn run(command: NatCommand) -> anyhow::Result<ExitCode> {
    let NatCommand::Check(args) = command;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match runtime.block_on(check(&args)) {
        Ok(report) => {
            print_report(&report, args.json);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                println!("{}", json!({"ok": false, "error": format!("{e:#}")}));
            } else {
                eprintln!("itsp nat check: {e:#}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

/// What the check found.
struct Report {
    server: SocketAddr,
    other: Option<SocketAddr>,
    local: SocketAddr,
    mapped: SocketAddr,
    mapping: Mapping,
    filtering: Filtering,
}

impl Report {
    fn behind_nat(&self) -> bool {
        self.mapping != Mapping::None
    }

    /// What the result means for calls, in plain words.
    fn verdict(&self) -> &'static str {
        match (self.mapping, self.filtering) {
            (Mapping::None, Filtering::AddressAndPortDependent) => {
                "No NAT, but a firewall only lets in answers from where you sent to: calls work \
                 through the server, which answers from the address your phone uses."
            }
            (Mapping::None, _) => {
                "No NAT: your address is public; phones work without any NAT help."
            }
            (Mapping::EndpointIndependent, _) => {
                "Behind a NAT that keeps one public address for all destinations (a \"cone\" \
                 NAT): calls work with the server's NAT help (rport, keepalives), and \
                 STUN-capable phones can advertise their public address themselves."
            }
            (Mapping::AddressAndPortDependent, _) => {
                "Behind a symmetric NAT: every destination sees another public port, so STUN \
                 cannot predict the address for media; calls need the server's RTP relay."
            }
            (Mapping::Unknown, _) => {
                "Behind a NAT of unknown kind (the STUN server has no second port to compare): \
                 calls work with the server's NAT help; use the RTP relay if audio is one-way."
            }
        }
    }
}

fn print_report(r: &Report, as_json: bool) {
    if as_json {
        let other = r.other.map(|o| o.to_string());
        println!(
            "{}",
            json!({
                "ok": true,
                "server": r.server.to_string(),
                "other_address": other,
                "local": r.local.to_string(),
                "mapped": r.mapped.to_string(),
                "behind_nat": r.behind_nat(),
                "mapping": r.mapping.name(),
                "filtering": r.filtering.name(),
                "verdict": r.verdict(),
            })
        );
        return;
    }
    let other = r
        .other
        .map(|o| format!(" (other port {})", o.port()))
        .unwrap_or_default();
    println!("STUN server     {}{other}", r.server);
    println!("local address   {}", r.local);
    println!("public address  {}", r.mapped);
    println!(
        "behind NAT      {}",
        if r.behind_nat() { "yes" } else { "no" }
    );
    println!("mapping         {}", r.mapping.name());
    println!("filtering       {}", r.filtering.name());
    println!("verdict         {}", r.verdict());
}

async fn check(args: &CheckArgs) -> anyhow::Result<Report> {
    let server = resolve(&args.stun).await?;
    let wait = Duration::from_millis(args.timeout_ms);
    let socket = bind_towards(server).await?;
    let port = socket.local_addr()?.port();
    let local_ip = transport::local_ip_towards(server.ip())
        .with_context(|| format!("no route to {server}"))?;
    let local = SocketAddr::new(local_ip, port);
    let first = ask(&socket, server, ChangeRequest::NONE, wait)
        .await?
        .with_context(|| {
            format!(
                "no answer from the STUN server {server} (is it running, is UDP {} open?)",
                server.port()
            )
        })?;
    let other = first.other_address_from(server);
    let mapping = if first.mapped == local {
        Mapping::None
    } else if let Some(other) = other {
        match ask(&socket, other, ChangeRequest::NONE, wait).await? {
            Some(second) if second.mapped == first.mapped => Mapping::EndpointIndependent,
            Some(_) => Mapping::AddressAndPortDependent,
            None => Mapping::Unknown,
        }
    } else {
        Mapping::Unknown
    };
    // Filtering from a fresh socket: the first one has sent to the other port already,
    // which opened the NAT for it.
    let filtering = if other.is_some() {
        let fresh = bind_towards(server).await?;
        match ask(&fresh, server, ChangeRequest::PORT, wait).await {
            Ok(Some(_)) => Filtering::NotPortDependent,
            Ok(None) => Filtering::AddressAndPortDependent,
            Err(_) => Filtering::Unknown,
        }
    } else {
        Filtering::Unknown
    };
    Ok(Report {
        server,
        other,
        local,
        mapped: first.mapped,
        mapping,
        filtering,
    })
}

/// HOST or HOST:PORT (IPv6 in brackets) to an address, port 3478 by default.
async fn resolve(text: &str) -> anyhow::Result<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, server::stun_server::DEFAULT_STUN_PORT));
    }
    let with_port = if text.contains(':') {
        text.to_owned()
    } else {
        format!("{text}:{}", server::stun_server::DEFAULT_STUN_PORT)
    };
    tokio::net::lookup_host(&with_port)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .with_context(|| format!("cannot find the STUN server {text:?} (no such host)"))
}

async fn bind_towards(server: SocketAddr) -> anyhow::Result<UdpSocket> {
    let any: IpAddr = if server.is_ipv4() {
        Ipv4Addr::UNSPECIFIED.into()
    } else {
        Ipv6Addr::UNSPECIFIED.into()
    };
    UdpSocket::bind(SocketAddr::new(any, 0))
        .await
        .context("cannot open a UDP socket")
}

/// One Binding transaction to `to`, retransmitted at 1/8, 2/8, 4/8 of `wait` (RFC 5389
/// §7.2.1 doubling, cut short): `Ok(None)` without an answer. Answers may come from any
/// address (CHANGE-REQUEST asks for another port); they are matched by transaction ID.
async fn ask(
    socket: &UdpSocket,
    to: SocketAddr,
    change: ChangeRequest,
    wait: Duration,
) -> anyhow::Result<Option<BindingResponse>> {
    let id = TransactionId(std::array::from_fn(|_| fastrand::u8(..)));
    let request = binding_request(id, change);
    let deadline = tokio::time::Instant::now() + wait;
    let mut resend = tokio::time::Instant::now();
    let mut interval = wait / 8;
    let mut buf = vec![0u8; 1500];
    loop {
        let now = tokio::time::Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        if now >= resend {
            socket
                .send_to(&request, to)
                .await
                .with_context(|| format!("cannot send to {to}"))?;
            resend = now + interval;
            interval *= 2;
        }
        let until = resend.min(deadline);
        match tokio::time::timeout_at(until, socket.recv_from(&mut buf)).await {
            Err(_) => continue,
            // ICMP port unreachable from an earlier send: keep waiting for the others.
            Ok(Err(_)) => continue,
            Ok(Ok((n, _from))) => match parse_binding_response(&buf[..n], id) {
                Ok(Some(r)) => return Ok(Some(r)),
                Ok(None) => continue,
                Err(StunError::ErrorResponse { code, reason }) => {
                    anyhow::bail!("the STUN server {to} answered {code} {reason}")
                }
                Err(_) => continue,
            },
        }
    }
}
