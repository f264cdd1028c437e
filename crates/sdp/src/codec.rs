//! RTP formats as offer/answer sees them: encoding name, clock rate, channels, payload type
//! and format parameters (RFC 3264 §5.1, RFC 8866 §6.6), the static payload types of the
//! RTP/AVP profile (RFC 3551 §6) and the codecs an itsp phone speaks.

use std::borrow::Cow;
use std::fmt;

use crate::attribute::parse_payload_type;
use crate::media::MediaDescription;

/// How a codec is numbered on an `m=` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadType {
    /// A number the RTP/AVP profile assigns once and for all (RFC 3551 §6): 0 is PCMU.
    Static(u8),
    /// A number from the dynamic range 96-127 (RFC 3551 §3), bound by `a=rtpmap`; in a
    /// local codec list, the number we prefer to use when we make the offer.
    Dynamic(u8),
}

impl PayloadType {
    /// The first number of the dynamic range (RFC 3551 §3).
    pub const FIRST_DYNAMIC: u8 = 96;

    /// The payload type number.
    pub fn number(self) -> u8 {
        match self {
            PayloadType::Static(n) | PayloadType::Dynamic(n) => n,
        }
    }

    /// The kind of number `n` is: dynamic from 96 up, static below.
    pub fn from_number(n: u8) -> PayloadType {
        if n >= PayloadType::FIRST_DYNAMIC {
            PayloadType::Dynamic(n)
        } else {
            PayloadType::Static(n)
        }
    }
}

/// One media format: what an `a=rtpmap` (and `a=fmtp`) line says about a payload type.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Codec {
    /// The encoding name (`PCMU`, `telephone-event`); compared case-insensitively.
    pub encoding_name: Cow<'static, str>,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The number of audio channels (1 unless said otherwise).
    pub channels: u16,
    /// The payload type number.
    pub payload_type: PayloadType,
    /// Format parameters (`a=fmtp`), e.g. `0-16` for telephone-event.
    pub fmtp: Option<Cow<'static, str>>,
}

impl Codec {
    /// G.711 µ-law, static payload type 0 (RFC 3551 §4.5.14).
    pub const PCMU: Codec = Codec::fixed("PCMU", 8000, PayloadType::Static(0));
    /// GSM 06.10 full rate, static payload type 3 (RFC 3551 §4.5.8).
    pub const GSM: Codec = Codec::fixed("GSM", 8000, PayloadType::Static(3));
    /// G.711 A-law, static payload type 8 (RFC 3551 §4.5.14).
    pub const PCMA: Codec = Codec::fixed("PCMA", 8000, PayloadType::Static(8));
    /// DTMF and other named telephone events (RFC 4733 §2.4), dynamic, 101 by custom, events
    /// 0-16 (the 16 DTMF digits and flash).
    pub const TELEPHONE_EVENT: Codec = Codec {
        encoding_name: Cow::Borrowed("telephone-event"),
        clock_rate: 8000,
        channels: 1,
        payload_type: PayloadType::Dynamic(101),
        fmtp: Some(Cow::Borrowed("0-16")),
    };

    /// A mono codec without format parameters, usable in constants.
    const fn fixed(name: &'static str, clock_rate: u32, payload_type: PayloadType) -> Codec {
        Codec {
            encoding_name: Cow::Borrowed(name),
            clock_rate,
            channels: 1,
            payload_type,
            fmtp: None,
        }
    }

    /// A mono codec without format parameters.
    pub fn new(
        encoding_name: impl Into<Cow<'static, str>>,
        clock_rate: u32,
        payload_type: PayloadType,
    ) -> Codec {
        Codec {
            encoding_name: encoding_name.into(),
            clock_rate,
            channels: 1,
            payload_type,
            fmtp: None,
        }
    }

    /// The same codec under another payload type number (kind from the number).
    pub fn with_payload_type(mut self, number: u8) -> Codec {
        self.payload_type = PayloadType::from_number(number);
        self
    }

    /// The same codec with these format parameters (`a=fmtp`, e.g. `0-15` or `annexb=no`).
    pub fn with_fmtp(mut self, fmtp: impl Into<Cow<'static, str>>) -> Codec {
        self.fmtp = Some(fmtp.into());
        self
    }

    /// The payload type number.
    pub fn payload_type_number(&self) -> u8 {
        self.payload_type.number()
    }

    /// Whether `other` is the same format: same encoding name (ignoring case), clock rate and
    /// channels (RFC 3264 §6.1 compares formats by what rtpmap says, not by number).
    pub fn same_format(&self, other: &Codec) -> bool {
        self.encoding_name
            .eq_ignore_ascii_case(&other.encoding_name)
            && self.clock_rate == other.clock_rate
            && self.channels == other.channels
    }

    /// Whether this is RFC 4733 `telephone-event`.
    pub fn is_telephone_event(&self) -> bool {
        self.encoding_name.eq_ignore_ascii_case("telephone-event")
    }

    /// Whether this is comfort noise (`CN`, RFC 3389).
    pub fn is_comfort_noise(&self) -> bool {
        self.encoding_name.eq_ignore_ascii_case("CN")
    }

    /// Whether this codec carries the voice itself: neither telephone events nor comfort
    /// noise.
    pub fn is_voice(&self) -> bool {
        !self.is_telephone_event() && !self.is_comfort_noise()
    }

    /// The value of this codec's `a=rtpmap` after the payload type: `PCMU/8000`,
    /// `opus/48000/2`.
    pub fn rtpmap_encoding(&self) -> String {
        if self.channels == 1 {
            format!("{}/{}", self.encoding_name, self.clock_rate)
        } else {
            format!(
                "{}/{}/{}",
                self.encoding_name, self.clock_rate, self.channels
            )
        }
    }

    /// The codec of an RTP/AVP static payload type (RFC 3551 §6, tables 4 and 5), for `m=`
    /// formats without `a=rtpmap`.
    pub fn from_static_payload_type(number: u8) -> Option<Codec> {
        let (name, clock_rate, channels) = match number {
            0 => ("PCMU", 8000, 1),
            3 => ("GSM", 8000, 1),
            4 => ("G723", 8000, 1),
            5 => ("DVI4", 8000, 1),
            6 => ("DVI4", 16000, 1),
            7 => ("LPC", 8000, 1),
            8 => ("PCMA", 8000, 1),
            9 => ("G722", 8000, 1),
            10 => ("L16", 44100, 2),
            11 => ("L16", 44100, 1),
            12 => ("QCELP", 8000, 1),
            13 => ("CN", 8000, 1),
            14 => ("MPA", 90000, 1),
            15 => ("G728", 8000, 1),
            16 => ("DVI4", 11025, 1),
            17 => ("DVI4", 22050, 1),
            18 => ("G729", 8000, 1),
            25 => ("CelB", 90000, 1),
            26 => ("JPEG", 90000, 1),
            28 => ("nv", 90000, 1),
            31 => ("H261", 90000, 1),
            32 => ("MPV", 90000, 1),
            33 => ("MP2T", 90000, 1),
            34 => ("H263", 90000, 1),
            _ => return None,
        };
        Some(Codec {
            encoding_name: Cow::Borrowed(name),
            clock_rate,
            channels,
            payload_type: PayloadType::Static(number),
            fmtp: None,
        })
    }
}

/// `PCMU/8000 (0)`.
impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            self.rtpmap_encoding(),
            self.payload_type.number()
        )
    }
}

impl MediaDescription {
    /// What payload type `number` of this section is: its `a=rtpmap` (with `a=fmtp`), or
    /// else the RTP/AVP static assignment (RFC 3551 §6). `None` for a number the section does
    /// not list, or a dynamic one without `a=rtpmap`.
    pub fn codec(&self, number: u8) -> Option<Codec> {
        if !self.payload_types().any(|pt| pt == number) {
            return None;
        }
        let mut codec = match self.rtpmap(number) {
            Some(map) => Codec {
                encoding_name: Cow::Owned(map.encoding_name.to_owned()),
                clock_rate: map.clock_rate,
                channels: map.channel_count(),
                payload_type: PayloadType::from_number(number),
                fmtp: None,
            },
            None => Codec::from_static_payload_type(number)?,
        };
        codec.fmtp = self
            .fmtps()
            .find(|f| parse_payload_type(f.format) == Some(number))
            .map(|f| Cow::Owned(f.parameters.to_owned()));
        Some(codec)
    }

    /// The codecs of the section's payload types, in the `m=` order, skipping those it does
    /// not describe.
    pub fn codecs(&self) -> Vec<Codec> {
        self.payload_types()
            .filter_map(|pt| self.codec(pt))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SessionDescription;

    #[test]
    fn well_known_codecs() {
        assert_eq!(Codec::PCMU.payload_type, PayloadType::Static(0));
        assert_eq!(Codec::GSM.payload_type_number(), 3);
        assert_eq!(Codec::PCMA.rtpmap_encoding(), "PCMA/8000");
        assert_eq!(Codec::TELEPHONE_EVENT.payload_type_number(), 101);
        assert_eq!(Codec::TELEPHONE_EVENT.fmtp.as_deref(), Some("0-16"));
        assert!(Codec::TELEPHONE_EVENT.is_telephone_event());
        assert!(!Codec::TELEPHONE_EVENT.is_voice());
        assert!(Codec::PCMU.is_voice());
        assert_eq!(Codec::PCMU.to_string(), "PCMU/8000 (0)");
        for c in [Codec::PCMU, Codec::GSM, Codec::PCMA] {
            let number = c.payload_type_number();
            let table = Codec::from_static_payload_type(number).unwrap();
            assert!(table.same_format(&c), "{c}");
        }
    }

    #[test]
    fn format_comparison_ignores_case_and_number() {
        let lower = Codec::new("pcmu", 8000, PayloadType::Dynamic(120));
        assert!(lower.same_format(&Codec::PCMU));
        assert!(!Codec::PCMA.same_format(&Codec::PCMU));
        let wide = Codec::new("telephone-event", 16000, PayloadType::Dynamic(100));
        assert!(!wide.same_format(&Codec::TELEPHONE_EVENT));
        let stereo = Codec {
            channels: 2,
            ..Codec::new("opus", 48000, PayloadType::Dynamic(111))
        };
        assert_eq!(stereo.rtpmap_encoding(), "opus/48000/2");
        let events = Codec::TELEPHONE_EVENT
            .with_fmtp("0-15")
            .with_payload_type(96);
        assert_eq!(events.fmtp.as_deref(), Some("0-15"));
        assert_eq!(events.payload_type, PayloadType::Dynamic(96));
        assert_eq!(PayloadType::from_number(96), PayloadType::Dynamic(96));
        assert_eq!(PayloadType::from_number(95), PayloadType::Static(95));
    }

    #[test]
    fn codecs_of_a_section() {
        let sdp = SessionDescription::parse(
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 10.0.0.16\r\nt=0 0\r\n\
             m=audio 8000 RTP/AVP 0 8 3 98 101 99\r\n\
             a=rtpmap:0 pcmu/8000\r\na=rtpmap:98 iLBC/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=rtpmap:7 LPC/8000\r\n",
        )
        .unwrap();
        let m = &sdp.media()[0];
        let codecs = m.codecs();
        let names: Vec<String> = codecs.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "pcmu/8000 (0)",
                "PCMA/8000 (8)",
                "GSM/8000 (3)",
                "iLBC/8000 (98)",
                "telephone-event/8000 (101)"
            ]
        );
        assert_eq!(m.codec(101).and_then(|c| c.fmtp).as_deref(), Some("0-15"));
        // Listed on m= without rtpmap and dynamic: unknown. Not on m=: not there.
        assert_eq!(m.codec(99), None);
        assert_eq!(m.codec(7), None);
    }
}
