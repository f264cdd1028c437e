//! The configuration of a [`MediaStream`](super::MediaStream).

use std::time::Duration;

use crate::error::Error;
use crate::event::EventSenderConfig;
use crate::jitter::JitterConfig;
use crate::quality::CodecImpairment;

/// What one RTP session sends with and how it receives. The random values RFC 3550 asks for
/// (SSRC, initial sequence number and timestamp, §5.1, §8) come from the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    /// Our synchronization source (random, RFC 3550 §8.1).
    pub ssrc: u32,
    /// The sequence number of the first packet (random, RFC 3550 §5.1).
    pub initial_sequence: u16,
    /// The RTP timestamp of the first packet (random, RFC 3550 §5.1).
    pub initial_timestamp: u32,
    /// The audio payload type (0 PCMU, 8 PCMA, 3 GSM, or a dynamic one).
    pub payload_type: u8,
    /// The RTP clock rate of the audio payload type.
    pub clock_rate: u32,
    /// Audio per packet (the SDP `ptime`), also the playout tick.
    pub ptime: Duration,
    /// The telephone-event payload type (RFC 4733), if negotiated.
    pub telephone_event: Option<u8>,
    /// Our canonical name for SDES (RFC 3550 §6.5.1), e.g. `user@host`.
    pub cname: String,
    /// The RTCP report interval before randomization (RFC 3550 §6.2: 5 s minimum).
    pub rtcp_interval: Duration,
    /// A seed for RFC 3550 §6.3.1 randomization of the report interval (each interval ×
    /// a uniform factor in [0.5, 1.5], ÷ (e − 3/2)); `None` sends reports at exactly
    /// `rtcp_interval` (the first after half of it), which tests can predict.
    pub rtcp_randomization: Option<u64>,
    /// Jitter buffer bounds; its clock rate and frame duration follow `clock_rate` and
    /// `ptime`.
    pub jitter: JitterConfig,
    /// DTMF tone shape; its clock rate and packet interval follow `clock_rate` and `ptime`.
    pub events: EventSenderConfig,
    /// How long a received event waits for its end packet before it is reported anyway.
    pub event_hold: Duration,
    /// The codec's E-model factors for the report.
    pub codec: CodecImpairment,
}

impl StreamConfig {
    /// A configuration for 8 kHz audio in 20 ms packets with telephone events on payload
    /// type 101, reports every 5 s, G.711 with concealment for the E-model.
    pub fn new(
        ssrc: u32,
        initial_sequence: u16,
        initial_timestamp: u32,
        payload_type: u8,
        cname: impl Into<String>,
    ) -> Self {
        StreamConfig {
            ssrc,
            initial_sequence,
            initial_timestamp,
            payload_type,
            clock_rate: 8000,
            ptime: Duration::from_millis(20),
            telephone_event: Some(101),
            cname: cname.into(),
            rtcp_interval: Duration::from_secs(5),
            rtcp_randomization: None,
            jitter: JitterConfig::default(),
            events: EventSenderConfig::default(),
            event_hold: Duration::from_millis(120),
            codec: CodecImpairment::G711_PLC,
        }
    }

    /// Checks what a stream cannot run with.
    pub(super) fn validate(&self) -> Result<(), Error> {
        if self.payload_type > 127 {
            return Err(Error::Config("payload type above 127"));
        }
        if let Some(te) = self.telephone_event {
            if te > 127 {
                return Err(Error::Config("telephone-event payload type above 127"));
            }
            if te == self.payload_type {
                return Err(Error::Config(
                    "telephone-event and audio share a payload type",
                ));
            }
        }
        if self.clock_rate == 0 {
            return Err(Error::Config("clock rate is zero"));
        }
        if self.ptime.is_zero() || self.ptime > Duration::from_secs(1) {
            return Err(Error::Config("ptime must be between 0 and 1 s"));
        }
        if self.cname.len() > 255 {
            return Err(Error::Config("CNAME longer than 255 octets"));
        }
        if self.rtcp_interval.is_zero() || self.rtcp_interval > Duration::from_secs(3600) {
            return Err(Error::Config("RTCP interval must be between 0 and 1 hour"));
        }
        Ok(())
    }

    /// Samples (timestamp units) per packet.
    pub fn samples_per_packet(&self) -> u32 {
        (self.ptime.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as u32
    }
}
