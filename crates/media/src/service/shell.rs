//! The tokio shell of the [`ServiceUa`]: one UDP socket for SIP, two UDP sockets per call
//! (RTP on an even port of a range, RTCP on the next), a 20 ms tick for every call's media, and the core's
//! SIP timers. The core runs on one task that owns it; each RTP socket has a reader task that
//! hands datagrams to it through a channel. What needs the store leaves on a channel to
//! its owner ([`Outgoing`]: recorded messages to keep, a mailbox's messages wanted, a PIN
//! to check, messages heard, saved or deleted, a greeting or a PIN to keep, a subscribed
//! mailbox's message counts wanted, a conference room's PIN wanted); the messages, the PIN's verdict and the counts come
//! back on another ([`MailboxAnswer`]), with the news of the owner's phones registering
//! anew and the proxy's address. `itsp serve` is that owner. The core asks for the counts
//! of watched mailboxes after each change it made and every
//! [`ServiceConfig::mwi_recount`]; the owner reads them from the store each time.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::conference::{RoomAccess, RoomCommand, RoomKey, RoomReply};
use super::mwi::MessageCounts;
use super::{
    CallNumber, Deposit, Environment, Mailbox, ServiceConfig, ServiceEvent, ServiceUa,
    StoredMessage,
};
use crate::prompt::Prompt;

/// The default RTP port range of the media service (even first port).
pub const DEFAULT_RTP_PORTS: (u16, u16) = (40000, 40999);

/// Where the shell's sockets go.
#[derive(Debug, Clone)]
pub struct ShellConfig {
    /// The SIP socket (port 0: any free one).
    pub listen: SocketAddr,
    /// RTP ports, `(first, last)`.
    pub rtp_ports: (u16, u16),
    /// The directory of the mailboxes: `DIR/DOMAIN/USER/greeting.wav` is a personal
    /// greeting.
    pub voicemail_dir: Option<PathBuf>,
}

/// What the service needs its owner to do with the store.
#[derive(Debug)]
#[non_exhaustive]
pub enum Outgoing {
    /// Keep this message.
    Deposit(Deposit),
    /// Answer with the messages of `mailbox` for `call`, new ones first
    /// ([`MailboxAnswer::Messages`]).
    ListMessages {
        /// The call.
        call: CallNumber,
        /// Whose.
        mailbox: Mailbox,
    },
    /// Answer whether `pin` is the `vm-pin` of the subscriber that mailbox number
    /// `number` of `domain` names ([`MailboxAnswer::Login`]).
    CheckPin {
        /// The call.
        call: CallNumber,
        /// The domain called.
        domain: String,
        /// The mailbox number typed.
        number: String,
        /// The PIN typed.
        pin: String,
    },
    /// Delete this message: its row and its file.
    Delete {
        /// Whose.
        mailbox: Mailbox,
        /// Its id.
        id: i64,
    },
    /// Keep this WAV as the mailbox's personal greeting (`DIR/DOMAIN/USER/greeting.wav`,
    /// [`mailbox_dir`]).
    Greeting {
        /// Whose.
        mailbox: Mailbox,
        /// The WAV file.
        wav: Vec<u8>,
    },
    /// Keep this PIN as the mailbox owner's `vm-pin`.
    SetPin {
        /// Whose.
        mailbox: Mailbox,
        /// The new PIN.
        pin: String,
    },
    /// These messages were heard or saved: mark them saved.
    Heard {
        /// Whose.
        mailbox: Mailbox,
        /// Their ids.
        ids: Vec<i64>,
    },
    /// Answer with the message counts of `mailbox` ([`MailboxAnswer::Counts`]); it comes
    /// after the [`Outgoing::Deposit`], [`Outgoing::Heard`] or [`Outgoing::Delete`] that
    /// changed them.
    CountMessages {
        /// Whose.
        mailbox: Mailbox,
    },
    /// Answer with the PIN of conference room `room`, if it has one
    /// ([`MailboxAnswer::RoomPin`]), for `call` on its way in.
    RoomPin {
        /// The call.
        call: CallNumber,
        /// The room.
        room: RoomKey,
    },
}

/// What the owner answers.
#[derive(Debug)]
#[non_exhaustive]
pub enum MailboxAnswer {
    /// The messages of a mailbox, for a call that asked ([`Outgoing::ListMessages`]).
    Messages {
        /// The call.
        call: CallNumber,
        /// The messages: new ones first, each part oldest first.
        messages: Vec<StoredMessage>,
    },
    /// The verdict on a PIN ([`Outgoing::CheckPin`]).
    Login {
        /// The call.
        call: CallNumber,
        /// The mailbox the PIN opens; `None` for a wrong PIN, an unknown mailbox or one
        /// without a PIN alike.
        mailbox: Option<Mailbox>,
    },
    /// The message counts of a mailbox ([`Outgoing::CountMessages`]).
    Counts {
        /// Whose.
        mailbox: Mailbox,
        /// New and old voice messages.
        counts: MessageCounts,
    },
    /// One of the owner's phones registered anew, or the service started and the mailbox
    /// holds messages: its counts now ([`ServiceUa::mailbox_registered`]).
    Registered {
        /// Whose.
        mailbox: Mailbox,
        /// New and old voice messages.
        counts: MessageCounts,
    },
    /// The proxy's SIP address, once it listens: where message-waiting NOTIFYs without a
    /// subscription go ([`ServiceUa::set_proxy`]).
    Proxy(SocketAddr),
    /// An operator's request about the conference rooms in use (`itsp conf
    /// list|kick|mute`), answered on `reply`.
    Rooms {
        /// What to do.
        command: RoomCommand,
        /// Where the answer goes.
        reply: tokio::sync::oneshot::Sender<RoomReply>,
    },
    /// A click-to-dial to start ([`ServiceUa::click_to_dial`]), answered on `reply`.
    Dial {
        /// Whom to connect.
        request: super::click_to_dial::ClickToDial,
        /// Where the answer goes.
        reply: tokio::sync::oneshot::Sender<
            Result<super::click_to_dial::DialStarted, super::click_to_dial::DialError>,
        >,
    },
    /// Who may enter a conference room ([`Outgoing::RoomPin`]).
    RoomPin {
        /// The call on its way in.
        call: CallNumber,
        /// Open, a PIN, or shut.
        access: RoomAccess,
    },
}

/// The bound service, ready to run.
#[derive(Debug)]
pub struct MediaService {
    sip: Arc<UdpSocket>,
    local: SocketAddr,
    shell: ShellConfig,
}

impl MediaService {
    /// Binds the SIP socket.
    pub async fn bind(shell: ShellConfig) -> io::Result<MediaService> {
        let sip = UdpSocket::bind(shell.listen).await?;
        let local = sip.local_addr()?;
        Ok(MediaService {
            sip: Arc::new(sip),
            local,
            shell,
        })
    }

    /// The SIP socket's address: where the proxy sends service calls.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Runs the service with `config` (its `contact_host` is set to the socket's address)
    /// until the task is aborted; what needs the store goes to `outgoing`, mailbox
    /// contents come back on `answers`.
    pub fn spawn(
        self,
        mut config: ServiceConfig,
        outgoing: mpsc::UnboundedSender<Outgoing>,
        answers: mpsc::UnboundedReceiver<MailboxAnswer>,
    ) -> JoinHandle<()> {
        config.contact_host = self.local.to_string();
        if config.media_ip.is_unspecified() {
            config.media_ip = self.local.ip();
        }
        let media_ip = config.media_ip;
        let (rtp_tx, rtp_rx) = mpsc::channel(4096);
        let env = Env {
            ip: if self.local.ip().is_unspecified() {
                media_ip
            } else {
                self.local.ip()
            },
            ports: self.shell.rtp_ports,
            next: self.shell.rtp_ports.0,
            sockets: HashMap::new(),
            rtp_tx,
            voicemail_dir: self.shell.voicemail_dir.clone(),
        };
        let seed = fastrand::u64(..);
        tokio::spawn(run(
            ServiceUa::new(config, seed),
            self.sip,
            env,
            rtp_rx,
            outgoing,
            answers,
        ))
    }
}

/// A datagram from a call's socket: our RTP port, its source, its bytes, and whether it
/// came to the RTCP socket (the RTP port + 1).
type RtpIn = (u16, SocketAddr, Vec<u8>, bool);

async fn run(
    mut core: ServiceUa,
    sip: Arc<UdpSocket>,
    mut env: Env,
    mut rtp_rx: mpsc::Receiver<RtpIn>,
    outgoing: mpsc::UnboundedSender<Outgoing>,
    mut answers: mpsc::UnboundedReceiver<MailboxAnswer>,
) {
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut buf = vec![0u8; 65_535];
    loop {
        let wake = core.poll_timeout();
        let sleep = async {
            match wake {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            received = sip.recv_from(&mut buf) => match received {
                Ok((n, source)) => {
                    let now = std::time::Instant::now();
                    core.handle(now, source, Bytes::copy_from_slice(&buf[..n]), &mut env);
                }
                Err(e) => tracing::debug!(error = %e, "media service SIP receive failed"),
            },
            Some((port, source, bytes, rtcp)) = rtp_rx.recv() => {
                let now = std::time::Instant::now();
                if rtcp {
                    core.handle_rtcp(now, port, source, &bytes);
                } else {
                    core.handle_rtp(now, port, source, &bytes);
                }
            }
            Some(answer) = answers.recv() => match answer {
                MailboxAnswer::Messages { call, messages } => core.messages(call, messages),
                MailboxAnswer::Login { call, mailbox } => core.login(call, mailbox),
                MailboxAnswer::Counts { mailbox, counts } => {
                    core.message_counts(std::time::Instant::now(), &mailbox, counts);
                }
                MailboxAnswer::Registered { mailbox, counts } => {
                    core.mailbox_registered(std::time::Instant::now(), &mailbox, counts);
                }
                MailboxAnswer::Proxy(addr) => core.set_proxy(addr),
                MailboxAnswer::RoomPin { call, access } => core.room_pin(call, access),
                MailboxAnswer::Rooms { command, reply } => {
                    let _ = reply.send(core.room_command(std::time::Instant::now(), command));
                }
                MailboxAnswer::Dial { request, reply } => {
                    let _ = reply.send(core.click_to_dial(std::time::Instant::now(), request));
                }
            },
            _ = tick.tick() => {
                core.tick(std::time::Instant::now());
            }
            () = sleep => {
                core.handle_timeout(std::time::Instant::now());
            }
        }
        while let Some(t) = core.poll_transmit() {
            if let Err(e) = sip.send_to(&t.payload, t.dest).await {
                tracing::debug!(dest = %t.dest, error = %e, "media service SIP send failed");
            }
        }
        while let Some(t) = core.poll_rtp() {
            if let Some(call) = env.sockets.get(&t.port) {
                if t.dest.port() != 0 && !t.dest.ip().is_unspecified() {
                    let socket = if t.rtcp { &call.rtcp } else { &call.rtp };
                    let _ = socket.try_send_to(&t.payload, t.dest);
                }
            }
        }
        while let Some(event) = core.poll_event() {
            let lost = match event {
                ServiceEvent::Message(d) => outgoing.send(Outgoing::Deposit(d)).is_err(),
                ServiceEvent::ListMessages { call, mailbox } => {
                    if outgoing
                        .send(Outgoing::ListMessages { call, mailbox })
                        .is_err()
                    {
                        core.messages(call, Vec::new());
                    }
                    false
                }
                ServiceEvent::CheckPin {
                    call,
                    domain,
                    number,
                    pin,
                } => {
                    let ask = Outgoing::CheckPin {
                        call,
                        domain,
                        number,
                        pin,
                    };
                    if outgoing.send(ask).is_err() {
                        core.login(call, None);
                    }
                    false
                }
                ServiceEvent::Heard { mailbox, ids } => {
                    outgoing.send(Outgoing::Heard { mailbox, ids }).is_err()
                }
                ServiceEvent::Deleted { mailbox, id } => {
                    outgoing.send(Outgoing::Delete { mailbox, id }).is_err()
                }
                ServiceEvent::Greeting { mailbox, wav } => {
                    outgoing.send(Outgoing::Greeting { mailbox, wav }).is_err()
                }
                ServiceEvent::SetPin { mailbox, pin } => {
                    outgoing.send(Outgoing::SetPin { mailbox, pin }).is_err()
                }
                ServiceEvent::CountMessages { mailbox } => {
                    if outgoing.send(Outgoing::CountMessages { mailbox }).is_err() {
                        tracing::debug!("message counts not asked: nobody keeps the mailboxes");
                    }
                    false
                }
                ServiceEvent::RoomPin { call, room } => {
                    if outgoing.send(Outgoing::RoomPin { call, room }).is_err() {
                        // Nobody keeps the rooms: none has a PIN.
                        core.room_pin(call, RoomAccess::Open);
                    }
                    false
                }
                ServiceEvent::Ended { rtp_port, .. } => {
                    env.close(rtp_port);
                    false
                }
                _ => false,
            };
            if lost {
                tracing::error!("voicemail change lost: nobody keeps the mailboxes");
            }
        }
    }
}

/// The sockets of one call: RTP on an even port, RTCP on the next (RFC 3550 §11), each
/// with a task reading it.
struct CallSockets {
    rtp: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
    readers: [JoinHandle<()>; 2],
}

/// The shell's side of [`Environment`]: RTP and RTCP sockets, and greeting files.
struct Env {
    ip: IpAddr,
    ports: (u16, u16),
    next: u16,
    sockets: HashMap<u16, CallSockets>,
    rtp_tx: mpsc::Sender<RtpIn>,
    voicemail_dir: Option<PathBuf>,
}

impl Env {
    fn close(&mut self, port: u16) {
        if let Some(call) = self.sockets.remove(&port) {
            for reader in call.readers {
                reader.abort();
            }
        }
    }

    /// A task handing what `socket` receives to the core, as for RTP port `port`.
    fn reader(&self, socket: Arc<UdpSocket>, port: u16, rtcp: bool) -> JoinHandle<()> {
        let tx = self.rtp_tx.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                match socket.recv_from(&mut buf).await {
                    Ok((n, source)) => {
                        if tx
                            .send((port, source, buf[..n].to_vec(), rtcp))
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                    Err(e) => {
                        // ICMP port unreachable from a peer that went away.
                        tracing::trace!(port, rtcp, error = %e, "media receive failed");
                    }
                }
            }
        })
    }

    /// Binds an even port of the range and the odd one after it, round robin from the
    /// last pair given.
    fn bind(&mut self) -> Option<(u16, std::net::UdpSocket, std::net::UdpSocket)> {
        let (first, last) = self.ports;
        let count = (last.saturating_sub(first) / 2).max(1);
        for _ in 0..count {
            let port = self.next;
            self.next = if self.next.saturating_add(2) > last {
                first
            } else {
                self.next + 2
            };
            if self.sockets.contains_key(&port) {
                continue;
            }
            let Some(rtcp_port) = port.checked_add(1) else {
                continue;
            };
            if let (Ok(rtp), Ok(rtcp)) = (
                std::net::UdpSocket::bind((self.ip, port)),
                std::net::UdpSocket::bind((self.ip, rtcp_port)),
            ) {
                return Some((port, rtp, rtcp));
            }
        }
        None
    }
}

impl Environment for Env {
    fn open_rtp(&mut self) -> Option<u16> {
        let (port, rtp, rtcp) = self.bind()?;
        rtp.set_nonblocking(true).ok()?;
        rtcp.set_nonblocking(true).ok()?;
        let rtp = Arc::new(UdpSocket::from_std(rtp).ok()?);
        let rtcp = Arc::new(UdpSocket::from_std(rtcp).ok()?);
        let readers = [
            self.reader(rtp.clone(), port, false),
            self.reader(rtcp.clone(), port, true),
        ];
        self.sockets
            .insert(port, CallSockets { rtp, rtcp, readers });
        Some(port)
    }

    fn greeting(&mut self, mailbox: &Mailbox) -> Option<Prompt> {
        let dir = self.voicemail_dir.as_ref()?;
        let path = super::greeting::greeting_path(dir, mailbox);
        if !path.is_file() {
            return None;
        }
        match Prompt::load(&path) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(%mailbox, error = %e, "personal greeting unusable; the default plays");
                None
            }
        }
    }
}

/// The directory of `mailbox` under `dir`: `DIR/DOMAIN/USER`, each part made safe for a
/// file name (anything but letters, digits, `.`, `-`, `_`, `+` becomes `_`; a name of dots
/// only becomes `_`).
pub fn mailbox_dir(dir: &std::path::Path, mailbox: &Mailbox) -> PathBuf {
    dir.join(safe_name(&mailbox.domain))
        .join(safe_name(&mailbox.user))
}

fn safe_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.is_empty() || cleaned.chars().all(|c| c == '.') {
        "_".into()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mailbox_directories_are_safe_names() {
        let m = Mailbox {
            user: "../etc".into(),
            domain: "example.com".into(),
        };
        assert_eq!(
            mailbox_dir(std::path::Path::new("/v"), &m),
            PathBuf::from("/v/example.com/.._etc")
        );
        let m = Mailbox {
            user: "..".into(),
            domain: "a/b".into(),
        };
        assert_eq!(
            mailbox_dir(std::path::Path::new("/v"), &m),
            PathBuf::from("/v/a_b/_")
        );
    }
}
