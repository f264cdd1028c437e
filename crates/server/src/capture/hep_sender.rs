//! [`HepSender`]: the task that sends every captured message to a HEP collector (HOMER's
//! heplify-server, sngrep `-L`, a Kamailio `sipcapture`) over UDP, one HEP v3 packet per
//! message ([`super::hep`]), from the ring, every [`INTERVAL`], a run of packets per
//! `sendmmsg(2)`; and the RTCP reports of
//! relayed calls ([`super::rtcp_report`], HEP type 5) queued to it by the shell. The
//! collector's name is resolved when the task starts, and again after a failure.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::Notify;

use crate::engine::SystemNetwork;
use crate::sync::lock;

use super::hep::{encode, encode_rtcp_report, Agent};
use super::ring::SharedRing;
use super::rtcp_report::QualityReport;
use super::HepConfig;

/// How often the ring is read: the delay a message may take to reach the collector.
const INTERVAL: Duration = Duration::from_millis(50);

/// How long to wait before resolving the collector again after a failure.
const RETRY: Duration = Duration::from_secs(10);

/// Records taken from the ring at a time.
const BATCH: usize = 1000;

/// RTCP reports that may wait for the sender; more are dropped (a collector that is
/// down must not make the relay's session ends wait or grow memory).
pub(crate) const REPORT_QUEUE: usize = 4096;

/// Where the shell queues RTCP reports for the sender.
pub(crate) type ReportQueue = tokio::sync::mpsc::Sender<QualityReport>;

/// The running sender; [`HepSender::close`] sends what is left and stops it.
pub(crate) struct HepSender {
    stop: Arc<Notify>,
    task: tokio::task::JoinHandle<()>,
}

impl HepSender {
    /// Starts the task; it sends the messages captured from now on and the reports
    /// queued to the answered [`ReportQueue`].
    pub(crate) fn spawn(ring: SharedRing, config: HepConfig) -> (HepSender, ReportQueue) {
        let stop = Arc::new(Notify::new());
        let after = lock(&ring).last_seq();
        let (queue, reports) = tokio::sync::mpsc::channel(REPORT_QUEUE);
        let task = tokio::spawn(run(ring, config, after, stop.clone(), reports));
        (HepSender { stop, task }, queue)
    }

    /// Sends what the ring holds that is not sent yet (for at most a second) and stops.
    pub(crate) async fn close(self) {
        self.stop.notify_one();
        let task = self.task;
        tokio::pin!(task);
        if tokio::time::timeout(Duration::from_secs(1), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

async fn run(
    ring: SharedRing,
    config: HepConfig,
    mut after: u64,
    stop: Arc<Notify>,
    mut reports: tokio::sync::mpsc::Receiver<QualityReport>,
) {
    let agent = Agent {
        capture_id: config.capture_id,
        auth_key: config.auth_key.clone(),
        node_name: config.node_name.clone(),
    };
    let mut network = SystemNetwork::default();
    let mut link: Option<(UdpSocket, SocketAddr)> = None;
    let mut failures: u64 = 0;
    loop {
        let stopping = tokio::select! {
            () = tokio::time::sleep(INTERVAL) => false,
            () = stop.notified() => true,
        };
        if link.is_none() {
            link = connect(&config.collector).await;
            if link.is_none() && !stopping {
                // Messages captured meanwhile are skipped: the ring moves on.
                tokio::select! {
                    () = tokio::time::sleep(RETRY) => {}
                    () = stop.notified() => return,
                }
                after = lock(&ring).last_seq();
                while reports.try_recv().is_ok() {}
                continue;
            }
        }
        loop {
            let batch = lock(&ring).after(after, BATCH);
            if batch.missed > 0 {
                tracing::warn!(
                    missed = batch.missed,
                    "the HEP sender fell behind the capture ring; messages not sent"
                );
            }
            let Some(last) = batch.records.last().map(|r| r.seq) else {
                break;
            };
            after = last;
            let Some((socket, collector)) = &link else {
                break;
            };
            let mut packets = Vec::with_capacity(batch.records.len());
            for record in batch.records {
                let mut message = record.message;
                message.resolve_local(&mut network);
                let call_id = call_id_of(&message.bytes);
                match encode(&message, call_id, &agent) {
                    Some(packet) => packets.push(packet),
                    None => tracing::debug!(
                        len = message.bytes.len(),
                        "a message too long for one HEP packet was not sent"
                    ),
                }
            }
            for e in send_packets(socket, *collector, &packets).await {
                failures += 1;
                // The first failure and then one in a thousand, not one per message.
                if failures % 1000 == 1 {
                    tracing::warn!(collector = %collector, error = %e, failures, "HEP packets not sent");
                }
            }
        }
        if let Some((socket, collector)) = &link {
            while let Ok(mut report) = reports.try_recv() {
                report.resolve_relay(&mut network);
                let Some(packet) = encode_rtcp_report(&report, &agent) else {
                    continue;
                };
                if let Err(e) = socket.send_to(&packet, *collector).await {
                    failures += 1;
                    if failures % 1000 == 1 {
                        tracing::warn!(collector = %collector, error = %e, failures, "HEP packet not sent");
                    }
                }
            }
        }
        if stopping {
            return;
        }
    }
}

/// The Call-ID of a SIP message as captured (`Call-ID` or its compact form `i`, RFC 3261
/// §20.8, §7.3.3), found by reading the header lines only: the HEP correlation ID of every
/// message without parsing each one whole. `None` for a message without one (or not
/// text), which goes without a correlation ID.
pub(crate) fn call_id_of(bytes: &[u8]) -> Option<&str> {
    let mut lines = bytes.split(|&b| b == b'\n');
    lines.next()?; // the request or status line
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return None; // the end of the headers
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if name.eq_ignore_ascii_case(b"call-id") || name.eq_ignore_ascii_case(b"i") {
            let value = std::str::from_utf8(line[colon + 1..].trim_ascii()).ok()?;
            return (!value.is_empty()).then_some(value);
        }
    }
    None
}

/// Datagrams per `sendmmsg(2)`.
const SEND_BATCH: usize = 32;

/// Sends `packets` to `collector` from `socket`, up to [`SEND_BATCH`] in one `sendmmsg(2)`
/// (one system call for a run of messages rather than one each), waiting while the
/// socket's buffer is full; a run the kernel refuses is skipped. Answers the errors met.
async fn send_packets(
    socket: &UdpSocket,
    collector: SocketAddr,
    packets: &[Vec<u8>],
) -> Vec<std::io::Error> {
    use nix::sys::socket::{sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage};
    use std::io::IoSlice;
    use std::os::fd::AsRawFd;

    let address = SockaddrStorage::from(collector);
    let mut errors = Vec::new();
    let mut rest = packets;
    while !rest.is_empty() {
        let run = &rest[..rest.len().min(SEND_BATCH)];
        let sent = socket.try_io(tokio::io::Interest::WRITABLE, || {
            // Made here, not held across an await: the headers hold raw pointers (not Send).
            let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(run.len(), None);
            let slices: Vec<[IoSlice<'_>; 1]> = run.iter().map(|p| [IoSlice::new(p)]).collect();
            let addresses: Vec<Option<SockaddrStorage>> =
                run.iter().map(|_| Some(address)).collect();
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            sendmmsg(
                socket.as_raw_fd(),
                &mut headers,
                &slices,
                &addresses,
                no_cmsgs,
                MsgFlags::MSG_DONTWAIT,
            )
            .map(|results| results.count())
            .map_err(std::io::Error::from)
        });
        match sent {
            Ok(n) if n > 0 => rest = &rest[n.min(rest.len())..],
            Ok(_) => {
                errors.push(std::io::Error::other("sendmmsg sent nothing"));
                rest = &rest[run.len()..];
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if let Err(e) = socket.writable().await {
                    errors.push(e);
                    break;
                }
            }
            Err(e) => {
                errors.push(e);
                rest = &rest[run.len()..];
            }
        }
    }
    errors
}

/// A socket toward the collector (`HOST:PORT`, resolved now).
async fn connect(collector: &str) -> Option<(UdpSocket, SocketAddr)> {
    let address = match tokio::net::lookup_host(collector).await {
        Ok(mut addresses) => addresses.next(),
        Err(e) => {
            tracing::warn!(%collector, error = %e, "the HEP collector cannot be resolved; trying again in 10 s");
            return None;
        }
    };
    let Some(address) = address else {
        tracing::warn!(%collector, "the HEP collector has no address; trying again in 10 s");
        return None;
    };
    let any: SocketAddr = if address.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    match UdpSocket::bind(any).await {
        Ok(socket) => {
            tracing::info!(collector = %address, "SIP capture sent to a HEP collector");
            Some((socket, address))
        }
        Err(e) => {
            tracing::warn!(error = %e, "no socket for HEP export; trying again in 10 s");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_id_is_read_from_the_header_lines() {
        let invite =
            b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
Call-ID:  abc@192.0.2.1 \r\nCSeq: 1 INVITE\r\n\r\nv=0\r\nCall-ID: body\r\n";
        assert_eq!(call_id_of(invite), Some("abc@192.0.2.1"));
        let compact = b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a\r\nI : x1\r\n\r\n";
        assert_eq!(call_id_of(compact), Some("x1"));
        let lf_only = b"BYE sip:a SIP/2.0\ncall-id: lf\n\n";
        assert_eq!(call_id_of(lf_only), Some("lf"));
        // Only in the body, or none at all, or empty, or not text: no correlation ID.
        assert_eq!(
            call_id_of(b"OPTIONS sip:a SIP/2.0\r\n\r\nCall-ID: body\r\n"),
            None
        );
        assert_eq!(call_id_of(b"garbage"), None);
        assert_eq!(call_id_of(b""), None);
        assert_eq!(call_id_of(b"X sip:a SIP/2.0\r\nCall-ID:\r\n\r\n"), None);
        assert_eq!(
            call_id_of(b"X sip:a SIP/2.0\r\nCall-ID: \xff\xfe\r\n\r\n"),
            None
        );
    }

    #[tokio::test]
    async fn runs_of_packets_reach_the_collector_in_order() {
        let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let to = collector.local_addr().unwrap();
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let packets: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; 10 + usize::from(i)]).collect();
        let errors = send_packets(&socket, to, &packets).await;
        assert!(errors.is_empty(), "{errors:?}");
        let mut buf = [0u8; 256];
        for expected in &packets {
            let n = collector.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], expected.as_slice());
        }
    }
}
