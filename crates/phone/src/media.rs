//! The media of one call: an RTP/RTCP socket pair, the SDP offer/answer (RFC 3264, with the
//! `sdp` crate), and a task that every 20 ms encodes a frame of the source, sends it,
//! plays out the jitter buffer into the recording, and handles RTCP and DTMF (with the
//! `rtp` crate's codecs and [`rtp::stream::MediaStream`]).
//!
//! SDES-SRTP (RFC 4568) when `--srtp` asks for it: our offers carry one `a=crypto` line per
//! suite with fresh keys, our answers take the offer's first usable line; the task protects
//! every RTP and RTCP packet it sends with our key and unprotects what it receives with the
//! peer's (`rtp::srtp`), dropping and counting what fails authentication or is replayed.
//!
//! Symmetric RTP (RFC 4961): each call sends from the port it receives on, so a NAT maps
//! both directions the same way. Audio sources: a WAV file (read once, resampled to
//! 8 kHz, looped), a sine tone, or silence; the sink is a WAV file written at hang-up.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use rtp::codec::{Codec as Voice, FRAME_SAMPLES};
use rtp::jitter::Playout;
use rtp::srtp::SrtpError;
use rtp::stream::{Channel, MediaStream, StreamConfig};
use sdp::{Direction, LocalMedia, Negotiated, SessionDescription};
use serde_json::json;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

use crate::options::{Settings, SrtpMode};
use crate::ua::CallId;
use rtp::srtp::sdes::{answer_crypto, offered_crypto};
use rtp::srtp::{Protection, SrtpCounters};

/// Why the media could not be set up or negotiated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// A socket could not be opened.
    #[error("RTP socket: {0}")]
    Io(#[from] std::io::Error),
    /// The WAV file to play could not be read.
    #[error("cannot read {path}: {why}")]
    Play {
        /// The file.
        path: PathBuf,
        /// Why.
        why: String,
    },
    /// The peer's SDP is malformed or has nothing in common with ours (488).
    #[error("{0}")]
    Sdp(#[from] sdp::SdpError),
    /// The INVITE came without an offer; this phone answers offers only.
    #[error("no SDP offer in the INVITE")]
    NoOffer,
    /// No offer of ours is waiting for this answer.
    #[error("no offer of ours is waiting for an answer")]
    NoPendingOffer,
    /// The negotiated codec is not one this phone can encode.
    #[error("negotiated codec {0} is not supported")]
    Codec(String),
    /// DTMF could not be sent.
    #[error("DTMF: {0}")]
    Dtmf(String),
    /// STUN on the RTP socket failed.
    #[error("STUN on the RTP socket: {0}")]
    Stun(String),
    /// The SRTP keys could not be made or used.
    #[error("SRTP: {0}")]
    Srtp(#[from] SrtpError),
}

/// Where the audio we send comes from.
#[derive(Debug, Clone)]
enum Source {
    /// Silence (zero samples).
    Silence,
    /// A sine tone.
    Tone(f64),
    /// 8 kHz samples of a WAV file, looped.
    Samples(Arc<Vec<i16>>),
}

/// Amplitude of --tone: -10 dBFS, loud but far from clipping through any codec.
const TONE_AMPLITUDE: f64 = 10_000.0;

/// What every call's media shares: addresses, codecs, source and sink.
#[derive(Debug, Clone)]
pub struct MediaSetup {
    /// The address our sockets bind to.
    bind_ip: IpAddr,
    /// The address written in SDP (the STUN-found one behind a NAT).
    sdp_ip: IpAddr,
    /// First RTP port to try (0: any).
    rtp_port: u16,
    /// Our codecs in preference order, as SDP formats.
    codecs: Vec<sdp::Codec>,
    source: Source,
    record: Option<PathBuf>,
    stun: Option<SocketAddr>,
    cname: String,
    srtp: SrtpMode,
}

impl MediaSetup {
    /// Prepares the media of the calls: loads the WAV to play (resampled to 8 kHz). With a
    /// `stun` server, each call's RTP port asks it for its public address.
    pub async fn new(
        settings: &Settings,
        local_ip: IpAddr,
        stun: Option<SocketAddr>,
    ) -> Result<MediaSetup, MediaError> {
        let source = match (&settings.play, settings.tone) {
            (Some(path), _) => {
                let bytes = tokio::fs::read(path).await.map_err(|e| MediaError::Play {
                    path: path.clone(),
                    why: e.to_string(),
                })?;
                let wav = rtp::audio::wav::parse(&bytes).map_err(|e| MediaError::Play {
                    path: path.clone(),
                    why: e.to_string(),
                })?;
                let samples = if wav.sample_rate == 8000 {
                    wav.samples
                } else {
                    rtp::audio::resample::resample(&wav.samples, wav.sample_rate, 8000).map_err(
                        |e| MediaError::Play {
                            path: path.clone(),
                            why: e.to_string(),
                        },
                    )?
                };
                if samples.is_empty() {
                    return Err(MediaError::Play {
                        path: path.clone(),
                        why: "no audio in the file".into(),
                    });
                }
                Source::Samples(Arc::new(samples))
            }
            (None, Some(hz)) => Source::Tone(f64::from(hz)),
            (None, None) => Source::Silence,
        };
        let mut codecs: Vec<sdp::Codec> = settings
            .codecs
            .iter()
            .filter_map(|name| match name.as_str() {
                "pcmu" => Some(sdp::Codec::PCMU),
                "pcma" => Some(sdp::Codec::PCMA),
                "gsm" => Some(sdp::Codec::GSM),
                _ => None,
            })
            .collect();
        codecs.push(sdp::Codec::TELEPHONE_EVENT);
        Ok(MediaSetup {
            bind_ip: local_ip,
            sdp_ip: local_ip,
            rtp_port: settings.rtp_port,
            codecs,
            source,
            record: settings.record.clone(),
            stun,
            cname: format!("{}@{}", settings.user, settings.domain),
            srtp: settings.srtp,
        })
    }

    /// Opens an even RTP port and the RTCP port above it (RFC 3550 §11) for one call.
    pub async fn bind(&self) -> Result<CallMedia, MediaError> {
        let (rtp, rtcp) = bind_pair(self.bind_ip, self.rtp_port).await?;
        let mut sdp_addr = SocketAddr::new(self.sdp_ip, rtp.local_addr()?.port());
        if let Some(stun) = self.stun {
            sdp_addr = crate::stun::discover(&rtp, stun)
                .await
                .map_err(|e| MediaError::Stun(e.to_string()))?;
        }
        let session_id = fastrand::u64(1..u64::MAX / 2);
        let mut local = LocalMedia::new(
            sdp_addr.ip(),
            sdp_addr.port(),
            self.codecs.clone(),
            session_id,
            1,
        );
        if self.srtp != SrtpMode::Off {
            local.crypto = offered_crypto()?;
        }
        Ok(CallMedia {
            rtp: Arc::new(rtp),
            rtcp: Arc::new(rtcp),
            local,
            last_local: None,
            pending_offer: None,
            negotiated: None,
            answer: None,
            running: None,
            source: self.source.clone(),
            record: self.record.clone(),
            cname: self.cname.clone(),
            srtp: self.srtp,
        })
    }
}

/// Binds RTP on an even port and RTCP on the next one: from `first` upwards, or any free
/// pair when `first` is 0.
async fn bind_pair(ip: IpAddr, first: u16) -> Result<(UdpSocket, UdpSocket), MediaError> {
    for attempt in 0..200u16 {
        let rtp = if first == 0 {
            UdpSocket::bind((ip, 0)).await?
        } else {
            let port = first.saturating_add(attempt * 2);
            match UdpSocket::bind((ip, port)).await {
                Ok(s) => s,
                Err(_) => continue,
            }
        };
        let port = rtp.local_addr()?.port();
        if port % 2 == 1 || port == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = UdpSocket::bind((ip, port + 1)).await {
            return Ok((rtp, rtcp));
        }
    }
    Err(MediaError::Io(std::io::Error::new(
        std::io::ErrorKind::AddrInUse,
        "no free pair of RTP/RTCP ports",
    )))
}

/// What the media task tells the phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// A DTMF digit arrived as RFC 4733 telephone-event.
    Dtmf(char),
}

/// Orders to a running media task.
#[derive(Debug)]
enum Control {
    /// New negotiation outcome (re-INVITE: hold, resume, new address).
    Update(Box<Negotiated>),
    /// Send these DTMF digits.
    Dtmf(String, oneshot::Sender<Result<(), String>>),
    /// Stop, send RTCP BYE, write the recording, report.
    Stop(oneshot::Sender<MediaReport>),
}

struct Running {
    control: mpsc::UnboundedSender<Control>,
}

/// The media of one call.
pub struct CallMedia {
    rtp: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
    local: LocalMedia,
    /// Our last description in this session (for o= versions, RFC 3264 §8).
    last_local: Option<SessionDescription>,
    /// Our offer waiting for its answer.
    pending_offer: Option<SessionDescription>,
    negotiated: Option<Negotiated>,
    /// Our answer to the peer's offer, for the 200.
    answer: Option<Bytes>,
    running: Option<Running>,
    source: Source,
    record: Option<PathBuf>,
    cname: String,
    srtp: SrtpMode,
}

impl CallMedia {
    /// Our (re-)offer: every codec, `sendonly` to hold the peer (RFC 3264 §8.4).
    pub fn offer(&mut self, hold: bool) -> Bytes {
        self.local.direction = if hold {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        };
        let sdp = match &self.last_local {
            Some(previous) => self.local.reoffer(previous),
            None => self.local.offer(),
        };
        match sdp {
            Ok(sdp) => {
                let bytes = Bytes::from(sdp.to_string());
                self.last_local = Some(sdp.clone());
                self.pending_offer = Some(sdp);
                bytes
            }
            Err(e) => {
                // Our own codec list is checked by the settings; this cannot happen.
                tracing::error!(error = %e, "cannot build our offer");
                Bytes::new()
            }
        }
    }

    /// Takes the offer of an incoming INVITE and prepares our answer (RFC 3264 §6). An
    /// INVITE without one (a late offer, RFC 3261 §13.2.1, as a third-party call
    /// controller sends: RFC 3725 §4.1) gets our offer in the 200 instead, and its answer
    /// comes in the ACK ([`CallMedia::apply_answer`]).
    pub fn take_offer(&mut self, offer: Option<&[u8]>) -> Result<(), MediaError> {
        let Some(offer) = offer.filter(|o| !o.is_empty()) else {
            let ours = self.offer(false);
            self.answer = Some(ours);
            return Ok(());
        };
        let offer = SessionDescription::from_bytes(offer)?;
        self.local.direction = Direction::SendRecv;
        let (answer, negotiated) = self.answer_offer(&offer)?;
        voice_codec(&negotiated)?;
        self.answer = Some(Bytes::from(answer.to_string()));
        self.last_local = Some(answer);
        self.negotiated = Some(negotiated);
        Ok(())
    }

    /// Our answer for the 200 of an incoming call (our offer, for a late-offer INVITE).
    pub fn local_answer(&self) -> Option<Bytes> {
        self.answer.clone()
    }

    /// Whether our offer waits for its answer (the ACK of a late-offer call): the media
    /// starts once it is applied.
    pub fn awaits_answer(&self) -> bool {
        self.pending_offer.is_some() && self.negotiated.is_none()
    }

    /// Reads the peer's answer to our latest offer (RFC 3264 §7) and applies it to the
    /// running media.
    pub fn apply_answer(&mut self, answer: &[u8]) -> Result<(), MediaError> {
        let offer = self
            .pending_offer
            .as_ref()
            .ok_or(MediaError::NoPendingOffer)?;
        let answer = SessionDescription::from_bytes(answer)?;
        let negotiated = sdp::answer::process_answer(offer, &answer)?;
        voice_codec(&negotiated)?;
        if let Some(pair) = &negotiated.crypto {
            rtp::srtp::sdes::session(pair)?;
        }
        self.apply(negotiated);
        Ok(())
    }

    /// Answers the peer's re-offer (hold or resume, RFC 3264 §8): our answer and whether
    /// the peer holds the call.
    pub fn reoffer_answer(&mut self, offer: Option<&[u8]>) -> Result<(Bytes, bool), MediaError> {
        let offer = offer.ok_or(MediaError::NoOffer)?;
        let offer = SessionDescription::from_bytes(offer)?;
        // Keep holding the peer if we put it on hold.
        if self.local.direction != Direction::SendOnly {
            self.local.direction = Direction::SendRecv;
        }
        let (mut answer, negotiated) = self.answer_offer(&offer)?;
        voice_codec(&negotiated)?;
        if let Some(previous) = &self.last_local {
            answer.continue_from(previous);
        }
        let held = negotiated.remote_hold;
        let bytes = Bytes::from(answer.to_string());
        self.last_local = Some(answer);
        self.apply(negotiated);
        Ok((bytes, held))
    }

    /// Our answer to `offer` under `--srtp`: plain RTP only when off; else SRTP with the
    /// first usable `a=crypto` line, and plain RTP too unless SRTP is required.
    fn answer_offer(
        &self,
        offer: &SessionDescription,
    ) -> Result<(SessionDescription, Negotiated), MediaError> {
        // A re-offer with the peer's running line keeps our running line (and key): no
        // packet in flight is lost to a key change.
        let running = self.negotiated.as_ref().and_then(|n| n.crypto.clone());
        let mut choose = |offered: &sdp::Crypto| match &running {
            Some(pair) if pair.theirs == *offered => Some(pair.ours.clone()),
            _ => answer_crypto(offered),
        };
        let answered = match self.srtp {
            SrtpMode::Off => self.local.answer(offer)?,
            SrtpMode::Offer => self.local.answer_srtp(offer, false, &mut choose)?,
            SrtpMode::Require => self.local.answer_srtp(offer, true, &mut choose)?,
        };
        if let Some(pair) = &answered.1.crypto {
            rtp::srtp::sdes::session(pair)?;
        }
        Ok(answered)
    }

    fn apply(&mut self, negotiated: Negotiated) {
        if let Some(running) = &self.running {
            let _ = running
                .control
                .send(Control::Update(Box::new(negotiated.clone())));
        }
        self.negotiated = Some(negotiated);
    }

    /// The negotiated codec's name.
    pub fn codec_name(&self) -> Option<String> {
        self.negotiated
            .as_ref()
            .map(|n| n.codec.encoding_name.to_string())
    }

    /// Starts the media task once a negotiation is complete (no-op when running).
    pub fn start(
        &mut self,
        call: CallId,
        events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
    ) -> Result<(), MediaError> {
        if self.running.is_some() {
            return Ok(());
        }
        let negotiated = self.negotiated.clone().ok_or(MediaError::NoPendingOffer)?;
        let voice = voice_codec(&negotiated)?;
        let srtp = Protection::new(negotiated.crypto.as_ref())?;
        let (control, orders) = mpsc::unbounded_channel();
        let task = MediaTask {
            call,
            rtp: self.rtp.clone(),
            rtcp: self.rtcp.clone(),
            voice,
            negotiated,
            srtp,
            source: self.source.clone(),
            record: self.record.clone(),
            cname: self.cname.clone(),
        };
        tokio::spawn(task.run(orders, events));
        self.running = Some(Running { control });
        Ok(())
    }

    /// Sends DTMF digits as RFC 4733 events.
    pub fn send_dtmf(&mut self, digits: &str) -> Result<(), MediaError> {
        let running = self
            .running
            .as_ref()
            .ok_or_else(|| MediaError::Dtmf("no media yet".into()))?;
        if self
            .negotiated
            .as_ref()
            .is_some_and(|n| n.telephone_event.is_none())
        {
            return Err(MediaError::Dtmf(
                "the other side does not accept telephone-event (try --dtmf-mode info)".into(),
            ));
        }
        let (tx, _rx) = oneshot::channel();
        running
            .control
            .send(Control::Dtmf(digits.to_owned(), tx))
            .map_err(|_| MediaError::Dtmf("media stopped".into()))
    }

    /// Stops the media: RTCP BYE, the recording written; the call's quality report (none
    /// when media never started).
    pub async fn stop(self) -> Option<MediaReport> {
        let running = self.running?;
        let (tx, rx) = oneshot::channel();
        running.control.send(Control::Stop(tx)).ok()?;
        tokio::time::timeout(Duration::from_secs(5), rx)
            .await
            .ok()?
            .ok()
    }
}

/// The voice codec the negotiation chose, if we can encode it.
fn voice_codec(negotiated: &Negotiated) -> Result<Voice, MediaError> {
    Voice::from_encoding_name(&negotiated.codec.encoding_name)
        .ok_or_else(|| MediaError::Codec(negotiated.codec.encoding_name.to_string()))
}

/// The call quality at hang-up.
#[derive(Debug, Clone)]
pub struct MediaReport {
    /// The codec used.
    pub codec: String,
    /// The stream's counters and quality.
    pub stream: rtp::stream::Report,
    /// Seconds of audio recorded.
    pub recorded_seconds: f64,
    /// What SRTP did (all zero and no suite for plain RTP).
    pub srtp: SrtpCounters,
}

impl MediaReport {
    /// One line for people.
    pub fn summary(&self) -> String {
        let s = &self.stream;
        let rtt = s
            .rtt_ms
            .map_or_else(|| "n/a".to_owned(), |r| format!("{r:.1} ms"));
        let quality = match (s.r_factor, s.mos) {
            (Some(r), Some(m)) => format!("R {r:.1}, MOS {m:.2}"),
            _ => "no audio received".to_owned(),
        };
        let srtp = match self.srtp.suite {
            Some(suite) => format!(
                ", SRTP {suite}: {} packets authenticated, {} failed authentication, {} replayed, {} RTCP dropped",
                self.srtp.authenticated, self.srtp.auth_failures, self.srtp.replays, self.srtp.rtcp_dropped
            ),
            None => String::new(),
        };
        format!(
            "call quality ({}): sent {} packets, received {}, lost {} ({:.1}%), jitter {:.1} ms, RTT {rtt}, {quality}{srtp}",
            self.codec, s.packets_sent, s.packets_received, s.packets_lost, s.loss_percent, s.jitter_ms
        )
    }

    /// The report as a JSON object.
    pub fn to_json(&self, call: CallId) -> serde_json::Value {
        let s = &self.stream;
        json!({
            "call": call.0,
            "codec": self.codec,
            "packets_sent": s.packets_sent,
            "octets_sent": s.octets_sent,
            "packets_received": s.packets_received,
            "octets_received": s.octets_received,
            "packets_expected": s.packets_expected,
            "packets_lost": s.packets_lost,
            "loss_percent": s.loss_percent,
            "late_discarded": s.late_discarded,
            "concealed_frames": s.concealed_frames,
            "jitter_ms": s.jitter_ms,
            "rtt_ms": s.rtt_ms,
            "remote_packets_lost": s.remote_packets_lost,
            "remote_jitter_ms": s.remote_jitter_ms,
            "events_received": s.events_received,
            "r_factor": s.r_factor,
            "mos": s.mos,
            "recorded_seconds": self.recorded_seconds,
            "srtp": self.srtp.suite.map(|suite| suite.name()),
            "srtp_authenticated": self.srtp.authenticated,
            "srtp_auth_failures": self.srtp.auth_failures,
            "srtp_replays": self.srtp.replays,
            "srtp_malformed": self.srtp.malformed,
            "srtp_rtcp_dropped": self.srtp.rtcp_dropped,
        })
    }
}

/// The 20 ms loop of one call.
struct MediaTask {
    call: CallId,
    rtp: Arc<UdpSocket>,
    rtcp: Arc<UdpSocket>,
    voice: Voice,
    negotiated: Negotiated,
    srtp: Protection,
    source: Source,
    record: Option<PathBuf>,
    cname: String,
}

impl MediaTask {
    async fn run(
        self,
        mut orders: mpsc::UnboundedReceiver<Control>,
        events: mpsc::UnboundedSender<(CallId, MediaEvent)>,
    ) {
        let MediaTask {
            call,
            rtp,
            rtcp,
            voice,
            mut negotiated,
            mut srtp,
            source,
            record,
            cname,
        } = self;
        let mut config = StreamConfig::new(
            fastrand::u32(..),
            fastrand::u16(..),
            fastrand::u32(..),
            negotiated.codec.payload_type_number(),
            cname,
        );
        config.telephone_event = negotiated.telephone_event;
        config.rtcp_randomization = Some(fastrand::u64(..));
        if voice == Voice::Gsm {
            config.codec = rtp::quality::CodecImpairment::GSM_FR;
        }
        let start = Instant::now();
        let mut stream = match MediaStream::new(config, start, SystemTime::now()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(%call, error = %e, "media stream not started");
                return;
            }
        };
        let mut encoder = voice.encoder();
        let mut decoder = voice.decoder();
        let mut generator = SourceCursor::new(source);
        let mut recorded: Vec<i16> = Vec::new();
        let mut heard_anything = false;
        let mut frame = vec![0i16; FRAME_SAMPLES];
        let mut payload = Vec::with_capacity(200);
        let mut packet = Vec::with_capacity(220);
        let mut decoded = Vec::with_capacity(FRAME_SAMPLES);
        let mut rtp_buf = vec![0u8; 2048];
        let mut rtcp_buf = vec![0u8; 2048];
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let stop_reply = loop {
            tokio::select! {
                _ = tick.tick() => {
                    let now = Instant::now();
                    if negotiated.direction.sends() && !stream.sending_digits() {
                        generator.fill(&mut frame);
                        payload.clear();
                        if encoder.encode(&frame, &mut payload).is_ok() {
                            packet.clear();
                            stream.send_audio_into(now, &payload, &mut packet);
                            if let Some(out) = srtp.outgoing_rtp(&packet) {
                                send(&rtp, &out, negotiated.remote_rtp).await;
                            }
                        }
                    }
                    decoded.clear();
                    match stream.pop_audio(now) {
                        Playout::Frame(f) => {
                            heard_anything = true;
                            if decoder.decode(&f.payload, &mut decoded).is_err() {
                                decoder.conceal(&mut decoded);
                            }
                        }
                        Playout::Missing => {
                            decoder.conceal(&mut decoded);
                        }
                        Playout::Nothing => {
                            if heard_anything {
                                decoded.resize(FRAME_SAMPLES, 0);
                            }
                        }
                    }
                    if record.is_some() {
                        recorded.extend_from_slice(&decoded);
                    }
                    flush_stream(&mut stream, now, &rtp, &rtcp, &negotiated, &mut srtp).await;
                    while let Some(event) = stream.poll_event(now) {
                        if let Some(digit) = event.digit {
                            let _ = events.send((call, MediaEvent::Dtmf(digit)));
                        }
                    }
                }
                received = rtp.recv_from(&mut rtp_buf) => {
                    if let Ok((n, _from)) = received {
                        let now = Instant::now();
                        let Some(packet) = srtp.incoming_rtp(&rtp_buf[..n]) else {
                            continue;
                        };
                        if let Err(e) = stream.receive_rtp(now, &packet) {
                            tracing::debug!(%call, error = %e, "RTP packet dropped");
                        }
                    }
                }
                received = rtcp.recv_from(&mut rtcp_buf) => {
                    if let Ok((n, _from)) = received {
                        let now = Instant::now();
                        let Some(packet) = srtp.incoming_rtcp(&rtcp_buf[..n]) else {
                            continue;
                        };
                        if let Err(e) = stream.receive_rtcp(now, SystemTime::now(), &packet) {
                            tracing::debug!(%call, error = %e, "RTCP packet dropped");
                        }
                    }
                }
                order = orders.recv() => match order {
                    Some(Control::Update(n)) => {
                        if n.codec.payload_type_number() != negotiated.codec.payload_type_number() {
                            tracing::warn!(%call, "codec change in a re-INVITE is not applied; keeping {}", negotiated.codec.encoding_name);
                        }
                        if let Err(e) = srtp.update(n.crypto.as_ref()) {
                            // Checked when the exchange was read; keep the running keys.
                            tracing::warn!(%call, error = %e, "new SRTP keys not applied");
                        }
                        negotiated = *n;
                    }
                    Some(Control::Dtmf(digits, reply)) => {
                        let now = Instant::now();
                        let result = digits
                            .chars()
                            .try_for_each(|d| stream.send_digit(now, d.to_ascii_uppercase()))
                            .map_err(|e| e.to_string());
                        let _ = reply.send(result);
                    }
                    Some(Control::Stop(reply)) => break Some(reply),
                    None => break None,
                }
            }
        };
        stream.close();
        flush_stream(
            &mut stream,
            Instant::now(),
            &rtp,
            &rtcp,
            &negotiated,
            &mut srtp,
        )
        .await;
        let recorded_seconds = recorded.len() as f64 / 8000.0;
        if let Some(path) = &record {
            let bytes = rtp::audio::wav::write(8000, &recorded);
            if let Err(e) = tokio::fs::write(path, bytes).await {
                tracing::warn!(path = %path.display(), error = %e, "recording not written");
            }
        }
        let report = MediaReport {
            codec: negotiated.codec.encoding_name.to_string(),
            stream: stream.report(),
            recorded_seconds,
            srtp: srtp.counters().clone(),
        };
        if let Some(reply) = stop_reply {
            let _ = reply.send(report);
        }
    }
}

/// Sends what the stream has due (DTMF events, RTCP).
async fn flush_stream(
    stream: &mut MediaStream,
    now: Instant,
    rtp: &UdpSocket,
    rtcp: &UdpSocket,
    negotiated: &Negotiated,
    srtp: &mut Protection,
) {
    while let Some(t) = stream.poll_transmit(now) {
        match t.channel {
            Channel::Rtp => {
                if let Some(out) = srtp.outgoing_rtp(&t.bytes) {
                    send(rtp, &out, negotiated.remote_rtp).await;
                }
            }
            Channel::Rtcp => {
                if let (Some(dest), Some(out)) =
                    (negotiated.remote_rtcp, srtp.outgoing_rtcp(&t.bytes))
                {
                    send(rtcp, &out, dest).await;
                }
            }
        }
    }
}

async fn send(socket: &UdpSocket, bytes: &[u8], dest: SocketAddr) {
    if bytes.is_empty() || dest.ip().is_unspecified() || dest.port() == 0 {
        return;
    }
    if let Err(e) = socket.send_to(bytes, dest).await {
        tracing::debug!(%dest, error = %e, "media send failed");
    }
}

/// Produces the source's samples, frame by frame.
struct SourceCursor {
    source: Source,
    tone: Option<rtp::audio::tone::Tone>,
    at: usize,
}

impl SourceCursor {
    fn new(source: Source) -> SourceCursor {
        let tone = match source {
            Source::Tone(hz) => Some(rtp::audio::tone::Tone::new(hz, TONE_AMPLITUDE, 8000)),
            _ => None,
        };
        SourceCursor {
            source,
            tone,
            at: 0,
        }
    }

    fn fill(&mut self, frame: &mut [i16]) {
        match (&self.source, self.tone.as_mut()) {
            (_, Some(tone)) => tone.fill(frame),
            (Source::Samples(samples), None) => {
                for s in frame.iter_mut() {
                    *s = samples.get(self.at).copied().unwrap_or(0);
                    self.at = (self.at + 1) % samples.len().max(1);
                }
            }
            _ => frame.fill(0),
        }
    }
}
