//! [`HepSender`]: the task that sends every captured message to a HEP collector (HOMER's
//! heplify-server, sngrep `-L`, a Kamailio `sipcapture`) over UDP, one HEP v3 packet per
//! message ([`super::hep`]), from the ring, every [`INTERVAL`]; and the RTCP reports of
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
            for record in batch.records {
                let mut message = record.message;
                message.resolve_local(&mut network);
                let parsed = sip::Message::parse(message.bytes.clone()).ok();
                let call_id = parsed.as_ref().and_then(|m| m.call_id().ok());
                let Some(packet) = encode(&message, call_id, &agent) else {
                    tracing::debug!(
                        len = message.bytes.len(),
                        "a message too long for one HEP packet was not sent"
                    );
                    continue;
                };
                if let Err(e) = socket.send_to(&packet, *collector).await {
                    failures += 1;
                    // The first failure and then one in a thousand, not one per message.
                    if failures % 1000 == 1 {
                        tracing::warn!(collector = %collector, error = %e, failures, "HEP packet not sent");
                    }
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
