//! `itsp relay`: an RTP relay node on its own, driven over rtpengine's NG protocol (by
//! itsp's proxy on other machines, or by Kamailio's `rtpengine` module).

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use relay::{serve_ng, RelayConfig, RelayHandle};

/// Arguments of `itsp relay`.
#[derive(Debug, clap::Args)]
pub(crate) struct RelayArgs {
    /// UDP address of the NG control protocol (what Kamailio's rtpengine module or itsp's
    /// proxy sends offer/answer/delete to).
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:2223")]
    listen_ng: SocketAddr,
    /// Media ports, MIN-MAX: MIN even (RTP even, RTCP = RTP + 1); each stream takes two
    /// pairs, one per party.
    #[arg(long, value_name = "MIN-MAX", default_value = "30000-40000", value_parser = parse_range)]
    ports: (u16, u16),
    /// The address written into SDP, where phones send their media: this machine's public
    /// address.
    #[arg(long, value_name = "IP")]
    public_ip: IpAddr,
    /// The address the media sockets bind to (default: every interface).
    #[arg(long, value_name = "IP")]
    listen_ip: Option<IpAddr>,
    /// Seconds without media or signalling after which a call is removed.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    idle_timeout: u64,
    /// Seconds a latched media source must be silent before another source may take its
    /// place (a NAT mapping that changed).
    #[arg(long, value_name = "SECONDS", default_value_t = 3)]
    relatch_after: u64,
    /// Media threads (1 keeps the relaying on one core, like rtpengine --num-threads=1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,
    /// Microseconds a media thread pauses after relaying, so that at high packet rates each
    /// wake-up handles many packets (interrupt moderation); 0 turns it off. Adds at most
    /// this much delay to a packet, nothing when idle.
    #[arg(long, value_name = "MICROSECONDS", default_value_t = 200)]
    coalesce_us: u64,
}

fn parse_range(text: &str) -> Result<(u16, u16), String> {
    let (min, max) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?} is not MIN-MAX, e.g. 30000-40000"))?;
    let port = |s: &str| {
        s.trim()
            .parse::<u16>()
            .map_err(|_| format!("{s:?} is not a port number (1-65535)"))
    };
    let (min, max) = (port(min)?, port(max)?);
    if min == 0 {
        return Err("port 0 cannot be relayed".into());
    }
    if min % 2 != 0 {
        return Err(format!(
            "the range must start on an even port (RTP even, RTCP = RTP + 1): {min} is odd"
        ));
    }
    if max <= min {
        return Err(format!(
            "the range {min}-{max} is empty or inverted (MIN < MAX)"
        ));
    }
    Ok((min, max))
}

/// Runs the relay until SIGINT or SIGTERM.
pub(crate) fn run(args: RelayArgs) -> anyhow::Result<ExitCode> {
    if args.threads == 0 {
        bail!("--threads must be at least 1");
    }
    let mut config = RelayConfig::new(args.public_ip);
    if let Some(ip) = args.listen_ip {
        config.listen_ip = ip;
    }
    config.engine.port_min = args.ports.0;
    config.engine.port_max = args.ports.1;
    config.engine.idle_timeout = Duration::from_secs(args.idle_timeout.max(1));
    config.engine.relatch_after = Duration::from_secs(args.relatch_after);
    config.threads = args.threads;
    config.coalesce = Duration::from_micros(args.coalesce_us.min(100_000));
    // The NG server only: media runs on the relay's own threads.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let ng = tokio::net::UdpSocket::bind(args.listen_ng)
            .await
            .with_context(|| {
                format!(
                    "cannot listen for NG on {}: is another relay (rtpengine, itsp relay) \
                     using it? choose another with --listen-ng",
                    args.listen_ng
                )
            })?;
        let relay = RelayHandle::start(config.clone())?;
        tracing::info!(
            ng = %args.listen_ng,
            public_ip = %args.public_ip,
            listen_ip = %config.listen_ip,
            ports = %format!("{}-{}", args.ports.0, args.ports.1),
            idle_timeout_s = args.idle_timeout,
            "relay ready"
        );
        serve_ng(relay.clone(), ng, stop_signal()).await;
        let calls = relay.list().len();
        relay.shutdown();
        tracing::info!(calls_ended = calls, "relay stopped");
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGINT or SIGTERM. (The same as `serve.rs`'s, which is private to that module.)
async fn stop_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn port_ranges_are_checked() {
        assert_eq!(parse_range("30000-40000"), Ok((30000, 40000)));
        assert!(parse_range("30001-40000").unwrap_err().contains("odd"));
        assert!(parse_range("40000-30000").unwrap_err().contains("inverted"));
        assert!(parse_range("30000").is_err());
        assert!(parse_range("30000-70000").is_err());
    }
}
