//! Answering an offer (RFC 3264 §6) and reading the answer to one of ours (§6, §7).
//!
//! A phone runs one audio stream over RTP/AVP. The answer accepts the first offered audio
//! stream that shares a voice codec with us and rejects every other stream with port 0,
//! keeping the number and order of the offer's `m=` lines (§6). Formats are listed in the
//! offer's order and with the offer's payload type numbers (§6.1), so the codec chosen is the
//! offerer's most preferred one that we speak.
//!
//! SDES-SRTP (RFC 4568 §7.1.2, §7.1.3): [`LocalMedia::answer_srtp`] also accepts `RTP/SAVP`
//! streams, answering the first `a=crypto` line the caller can use with the same tag and
//! suite and a key of the caller's; an `RTP/SAVP` stream none of whose lines is usable is
//! rejected like any other. [`process_answer`] pairs the answered line with the offered one
//! of its tag.

use crate::attribute::{parse_payload_type, Direction};
use crate::codec::Codec;
use crate::crypto::{Crypto, CryptoPair};
use crate::error::SdpError;
use crate::media::{MediaDescription, MediaLine};
use crate::negotiated::{outcome, Negotiated};
use crate::offer::{LocalMedia, AUDIO_PROTO};
use crate::session::SessionDescription;

impl LocalMedia {
    /// The answer to `offer` (RFC 3264 §6.1) and what it settles.
    ///
    /// The answer has our session (o=, s=, c=), the offer's `t=`, and one `m=` line per
    /// offered one. The first audio stream over RTP/AVP with a non-zero port and a voice
    /// codec in common is accepted on our RTP port with the common formats (the offer's
    /// numbers and order; telephone-event when both support it), our ptime and `a=rtcp`,
    /// and the direction that answers the offer's: `sendonly` → `recvonly`, `recvonly` →
    /// `sendonly`, `inactive` → `inactive`, `sendrecv` → ours; in general, ours limited to
    /// the reverse of theirs. An offer with the hold address `c=0.0.0.0` counts as not
    /// receiving. Every other stream is rejected with port 0.
    ///
    /// Fails with [`SdpError::NoCommonCodec`] (→ 488) when no stream can be accepted.
    ///
    /// The answer carries our `session_id` and `session_version`; to answer a re-offer in an
    /// established session, pass the result through
    /// [`SessionDescription::continue_from`] with our previous description (RFC 3264 §8).
    pub fn answer(
        &self,
        offer: &SessionDescription,
    ) -> Result<(SessionDescription, Negotiated), SdpError> {
        self.answer_with(offer, None)
    }

    /// The answer to `offer` with SDES-SRTP (RFC 4568 §7.1.2): like [`LocalMedia::answer`],
    /// and an audio stream over `RTP/SAVP` is accepted too when one of its `a=crypto` lines is
    /// usable: `choose` is asked about each line in the offer's order (the offerer's
    /// preference) and returns our line for the first it can use — its suite with a fresh
    /// key of ours —; the answer carries it with the offered tag and suite, and
    /// [`Negotiated::crypto`] holds both lines. An `RTP/SAVP` stream with no usable line is
    /// rejected with port 0 (§7.1.2), so an offer of nothing else fails with
    /// [`SdpError::NoCommonCodec`] (→ 488).
    ///
    /// An `RTP/AVP` stream with `a=crypto` lines (best-effort SRTP, as baresip's optional
    /// `srtp` offers it) is answered with a key the same way when a line is usable, else in
    /// plain RTP; with `require`, a plain RTP/AVP stream is rejected: only SRTP is accepted.
    pub fn answer_srtp(
        &self,
        offer: &SessionDescription,
        require: bool,
        choose: &mut dyn FnMut(&Crypto) -> Option<Crypto>,
    ) -> Result<(SessionDescription, Negotiated), SdpError> {
        self.answer_with(offer, Some(SrtpChoice { require, choose }))
    }

    fn answer_with(
        &self,
        offer: &SessionDescription,
        mut srtp: Option<SrtpChoice<'_>>,
    ) -> Result<(SessionDescription, Negotiated), SdpError> {
        let mut answer = self.session()?;
        if let Some(timing) = offer.timing() {
            answer.set_timing(timing);
        }
        let mut negotiated = None;
        for (index, offered) in offer.media().iter().enumerate() {
            let accepted = match negotiated {
                None => self.accept(offer, index, offered, srtp.as_mut())?,
                Some(_) => None,
            };
            match accepted {
                Some((section, outcome)) => {
                    answer.push_media(section)?;
                    negotiated = Some(outcome);
                }
                None => answer.push_media(rejected(offered)?)?,
            }
        }
        let negotiated = negotiated.ok_or(SdpError::NoCommonCodec)?;
        Ok((answer, negotiated))
    }

    /// Our section for offered stream `index` and the outcome, when we accept it.
    fn accept(
        &self,
        offer: &SessionDescription,
        index: usize,
        offered: &MediaDescription,
        srtp: Option<&mut SrtpChoice<'_>>,
    ) -> Result<Option<(MediaDescription, Negotiated)>, SdpError> {
        if offered.media_type() != "audio" || offered.port() == 0 {
            return Ok(None);
        }
        let crypto = match srtp {
            None if is_audio_rtp(offered) => None,
            None => return Ok(None),
            Some(choice) if is_audio_rtp(offered) || offered.is_srtp() => {
                // A tag names one line (RFC 4568 §6.1): a repeated tag's later lines are
                // not considered, as the offerer would read its first one.
                let mut tags = Vec::new();
                let chosen = offered.cryptos().find_map(|theirs| {
                    if tags.contains(&theirs.tag) {
                        return None;
                    }
                    tags.push(theirs.tag);
                    let mut ours = (choice.choose)(&theirs)?;
                    ours.tag = theirs.tag;
                    ours.suite.clone_from(&theirs.suite);
                    Some(CryptoPair { ours, theirs })
                });
                match chosen {
                    Some(pair) => Some(pair),
                    None if offered.is_srtp() || choice.require => return Ok(None),
                    None => None,
                }
            }
            Some(_) => return Ok(None),
        };
        // Formats both speak, in the offer's order: the peer's view (for the outcome) and
        // ours under the peer's number (for the answer).
        let mut theirs = Vec::new();
        let mut ours: Vec<Codec> = Vec::new();
        for number in offered.payload_types() {
            let Some(remote) = offered.codec(number) else {
                continue;
            };
            let Some(local) = self.codecs.iter().find(|c| c.same_format(&remote)) else {
                continue;
            };
            if ours.iter().any(|c| c.same_format(local)) {
                continue;
            }
            ours.push(local.clone().with_payload_type(number));
            theirs.push(remote);
        }
        let direction = answer_direction(offer.effective_direction(offered), self.direction);
        let Some(mut outcome) = outcome(offer, index, theirs, direction) else {
            return Ok(None);
        };
        let lines: Vec<Crypto> = crypto.iter().map(|pair| pair.ours.clone()).collect();
        let section =
            self.audio_section(self.rtp_port, &ours, direction, offered.proto(), &lines)?;
        outcome.crypto = crypto;
        Ok(Some((section, outcome)))
    }
}

/// Reads the answer to our `offer` (RFC 3264 §6, §7): the first stream the answer accepts
/// (non-zero port) that is audio over RTP/AVP or RTP/SAVP with a voice codec we offered gives
/// the outcome. Our direction is the one we offered, limited to the reverse of the answer's.
///
/// With SDES-SRTP (RFC 4568 §7.1.3, §7.5) the answer's `a=crypto` line must carry the tag and
/// suite of one of our lines; [`Negotiated::crypto`] pairs the two. An `RTP/SAVP` stream
/// accepted without one fails with [`SdpError::Crypto`], as does a suite that differs from
/// the offered line's; a tag we did not offer is [`SdpError::NotOffered`].
///
/// Fails when the answer has another number of `m=` lines
/// ([`SdpError::MediaCountMismatch`]), changes a stream's media type or transport, or
/// accepts a format we did not offer for that stream, or under another encoding
/// ([`SdpError::NotOffered`]); and with [`SdpError::NoCommonCodec`] when it accepts no
/// usable stream.
pub fn process_answer(
    offer: &SessionDescription,
    answer: &SessionDescription,
) -> Result<Negotiated, SdpError> {
    if offer.media().len() != answer.media().len() {
        return Err(SdpError::MediaCountMismatch {
            offer: offer.media().len(),
            answer: answer.media().len(),
        });
    }
    let mut negotiated = None;
    for (index, (offered, answered)) in offer.media().iter().zip(answer.media()).enumerate() {
        let not_offered = |what, value: &str| SdpError::NotOffered {
            index,
            what,
            value: value.to_owned(),
        };
        if answered.media_type() != offered.media_type() {
            return Err(not_offered("media type", answered.media_type()));
        }
        if !answered.proto().eq_ignore_ascii_case(offered.proto()) {
            return Err(not_offered("transport", answered.proto()));
        }
        if answered.port() == 0 {
            continue;
        }
        if let Some(format) = answered.formats().iter().find(|f| !was_offered(offered, f)) {
            return Err(not_offered("format", format));
        }
        let mut agreed = Vec::new();
        for number in answered.payload_types() {
            let ours = offered.codec(number);
            let theirs = answered.codec(number);
            match (ours, theirs) {
                (Some(ours), Some(theirs)) if !ours.same_format(&theirs) => {
                    return Err(not_offered("format", &theirs.to_string()));
                }
                (_, Some(theirs)) => agreed.push(theirs),
                (Some(ours), None) => agreed.push(ours),
                (None, None) => {}
            }
        }
        if negotiated.is_some()
            || !(is_audio_rtp(offered) || offered.media_type() == "audio" && offered.is_srtp())
            || offered.port() == 0
        {
            continue;
        }
        let crypto = answered_crypto(index, offered, answered)?;
        let direction = answer_direction(
            answer.effective_direction(answered),
            offer.media_direction(offered),
        );
        negotiated = outcome(answer, index, agreed, direction).map(|mut n| {
            n.crypto = crypto;
            n
        });
    }
    negotiated.ok_or(SdpError::NoCommonCodec)
}

/// The `a=crypto` pair of an accepted stream of our offer (RFC 4568 §7.1.3): none for plain
/// RTP, else the answer's line and our line of the same tag.
fn answered_crypto(
    index: usize,
    offered: &MediaDescription,
    answered: &MediaDescription,
) -> Result<Option<CryptoPair>, SdpError> {
    let Some(theirs) = answered.cryptos().next() else {
        return if offered.is_srtp() {
            Err(SdpError::Crypto(
                "the answer accepts RTP/SAVP without an a=crypto line",
            ))
        } else {
            Ok(None)
        };
    };
    let Some(ours) = offered.cryptos().find(|c| c.tag == theirs.tag) else {
        return Err(SdpError::NotOffered {
            index,
            what: "crypto tag",
            value: theirs.tag.to_string(),
        });
    };
    if !ours.suite.eq_ignore_ascii_case(&theirs.suite) {
        return Err(SdpError::Crypto(
            "the answer's a=crypto suite differs from the offered line of its tag",
        ));
    }
    Ok(Some(CryptoPair { ours, theirs }))
}

/// The caller's part in an SRTP answer: whether plain RTP is refused, and which offered
/// `a=crypto` lines it can use.
struct SrtpChoice<'a> {
    require: bool,
    choose: &'a mut dyn FnMut(&Crypto) -> Option<Crypto>,
}

/// Whether the answer's `format` is one of the offered section's: the same text, or for RTP
/// the same payload type number (`03` is `3`).
fn was_offered(offered: &MediaDescription, format: &str) -> bool {
    offered.formats().iter().any(|f| f == format)
        || parse_payload_type(format)
            .is_some_and(|number| offered.payload_types().any(|pt| pt == number))
}

/// Whether a section is an audio stream over plain RTP/AVP, the only kind a phone runs.
fn is_audio_rtp(media: &MediaDescription) -> bool {
    media.media_type() == "audio" && media.proto().eq_ignore_ascii_case(AUDIO_PROTO)
}

/// The answer's section for a stream we reject: same media type, transport and formats, port
/// 0, nothing else (RFC 3264 §6).
fn rejected(offered: &MediaDescription) -> Result<MediaDescription, SdpError> {
    MediaDescription::new(MediaLine {
        media: offered.media_type().to_owned(),
        port: 0,
        port_count: None,
        proto: offered.proto().to_owned(),
        formats: offered.formats().to_vec(),
    })
}

/// The direction our answer takes for an offered stream, given the one we want: ours
/// limited to the reverse of the offer's (RFC 3264 §6.1).
pub fn answer_direction(offered: Direction, wanted: Direction) -> Direction {
    wanted.intersect(offered.reversed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attribute::Rtcp;
    use std::time::Duration;

    /// The seed's X-Lite offer (seed 000, figure 7).
    const XLITE: &str = "v=0\r\n\
        o=nungu 1341909 1341919 IN IP4 10.0.0.16\r\n\
        s=X-Lite\r\n\
        c=IN IP4 10.0.0.16\r\n\
        t=0 0\r\n\
        m=audio 8000 RTP/AVP 0 8 3 98 101\r\n\
        a=rtpmap:0 pcmu/8000\r\n\
        a=rtpmap:8 pcma/8000\r\n\
        a=rtpmap:3 gsm/8000\r\n\
        a=rtpmap:98 iLBC/8000\r\n\
        a=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-15\r\n";

    fn local(codecs: Vec<Codec>) -> LocalMedia {
        LocalMedia::new("192.0.2.10".parse().unwrap(), 40000, codecs, 77, 77)
    }

    fn phone() -> LocalMedia {
        local(vec![
            Codec::PCMA,
            Codec::PCMU,
            Codec::GSM,
            Codec::TELEPHONE_EVENT,
        ])
    }

    /// An offer with one audio stream: `formats` on the m= line, then `media_extra` lines.
    fn offer_with(session_extra: &str, formats: &str, media_extra: &str) -> SessionDescription {
        SessionDescription::parse(&format!(
            "v=0\r\no=- 5 5 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\n\
             {session_extra}t=0 0\r\nm=audio 20000 RTP/AVP {formats}\r\n{media_extra}"
        ))
        .unwrap()
    }

    fn numbers(codecs: &[Codec]) -> Vec<u8> {
        codecs.iter().map(Codec::payload_type_number).collect()
    }

    #[test]
    fn answers_the_seed_xlite_offer() {
        let offer = SessionDescription::parse(XLITE).unwrap();
        let (answer, n) = phone().answer(&offer).unwrap();
        assert_eq!(
            answer.to_string(),
            "v=0\r\n\
             o=- 77 77 IN IP4 192.0.2.10\r\n\
             s=itsp\r\n\
             c=IN IP4 192.0.2.10\r\n\
             t=0 0\r\n\
             m=audio 40000 RTP/AVP 0 8 3 101\r\n\
             a=rtpmap:0 PCMU/8000\r\n\
             a=rtpmap:8 PCMA/8000\r\n\
             a=rtpmap:3 GSM/8000\r\n\
             a=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-16\r\n\
             a=ptime:20\r\n\
             a=sendrecv\r\n"
        );
        assert_eq!(n.media_index, 0);
        assert_eq!(n.remote_rtp, "10.0.0.16:8000".parse().unwrap());
        assert_eq!(n.remote_rtcp, Some("10.0.0.16:8001".parse().unwrap()));
        assert!(n.codec.same_format(&Codec::PCMU));
        assert_eq!(n.codec.payload_type_number(), 0);
        assert_eq!(numbers(&n.codecs), [0, 8, 3, 101]);
        assert_eq!(n.telephone_event, Some(101));
        assert_eq!(
            n.codecs.last().and_then(|c| c.fmtp.as_deref()),
            Some("0-15")
        );
        assert_eq!(n.ptime, None);
        assert_eq!(n.direction, Direction::SendRecv);
        assert_eq!(n.remote_direction, Direction::SendRecv);
        assert!(!n.remote_hold);
        // The answer is itself valid SDP.
        assert_eq!(
            SessionDescription::parse(&answer.to_string()).unwrap(),
            answer
        );
    }

    #[test]
    fn intersection_follows_the_offer_preference() {
        let offer = offer_with("", "18 8 3 0", "a=rtpmap:18 G729/8000\r\n");
        // We prefer PCMU, the offerer PCMA: the offerer's order wins (RFC 3264 §6.1).
        let (answer, n) = local(vec![Codec::PCMU, Codec::GSM, Codec::PCMA])
            .answer(&offer)
            .unwrap();
        assert_eq!(answer.media()[0].formats(), ["8", "3", "0"]);
        assert!(n.codec.same_format(&Codec::PCMA));
        assert_eq!(numbers(&n.codecs), [8, 3, 0]);
        // Only GSM in common.
        let (_, gsm) = local(vec![Codec::GSM]).answer(&offer).unwrap();
        assert_eq!(gsm.codec.payload_type_number(), 3);
        assert_eq!(numbers(&gsm.codecs), [3]);
    }

    #[test]
    fn dynamic_payload_types_keep_the_remote_number() {
        let offer = offer_with(
            "",
            "110 96",
            "a=rtpmap:110 PCMU/8000\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n",
        );
        let (answer, n) = phone().answer(&offer).unwrap();
        let m = &answer.media()[0];
        assert_eq!(m.formats(), ["110", "96"]);
        assert_eq!(m.rtpmap(110).map(|r| r.encoding_name), Some("PCMU"));
        assert_eq!(
            m.rtpmap(96).map(|r| r.encoding_name),
            Some("telephone-event")
        );
        assert_eq!(m.fmtp("96"), Some("0-16"));
        assert_eq!(m.rtpmap(101), None);
        assert_eq!(n.codec.payload_type_number(), 110);
        assert_eq!(n.telephone_event, Some(96));
    }

    #[test]
    fn telephone_event_only_when_both_support_it() {
        let without = offer_with("", "0", "");
        let (answer, n) = phone().answer(&without).unwrap();
        assert_eq!(answer.media()[0].formats(), ["0"]);
        assert_eq!(n.telephone_event, None);
        let with = offer_with("", "0 101", "a=rtpmap:101 telephone-event/8000\r\n");
        let (answer, n) = local(vec![Codec::PCMU]).answer(&with).unwrap();
        assert_eq!(answer.media()[0].formats(), ["0"]);
        assert_eq!(n.telephone_event, None);
        // Another clock rate is another format (RFC 4733 §2.4).
        let wide = offer_with("", "0 100", "a=rtpmap:100 telephone-event/16000\r\n");
        let (_, n) = phone().answer(&wide).unwrap();
        assert_eq!(n.telephone_event, None);
    }

    #[test]
    fn direction_table() {
        use Direction::*;
        let cases = [
            (SendRecv, SendRecv, SendRecv),
            (SendOnly, SendRecv, RecvOnly),
            (RecvOnly, SendRecv, SendOnly),
            (Inactive, SendRecv, Inactive),
            (SendRecv, SendOnly, SendOnly),
            (SendRecv, Inactive, Inactive),
            (SendOnly, SendOnly, Inactive),
            (RecvOnly, RecvOnly, Inactive),
        ];
        for (offered, wanted, expected) in cases {
            assert_eq!(answer_direction(offered, wanted), expected);
            let offer = offer_with("", "0", &format!("a={offered}\r\n"));
            let mut us = phone();
            us.direction = wanted;
            let (answer, n) = us.answer(&offer).unwrap();
            assert_eq!(n.direction, expected, "{offered} {wanted}");
            assert_eq!(n.remote_direction, offered);
            let m = &answer.media()[0];
            assert_eq!(answer.media_direction(m), expected);
            assert_eq!(m.direction_attribute(), Some(expected));
        }
        // A session-level direction counts when the section has none.
        let session = offer_with("a=sendonly\r\n", "0", "");
        let (_, n) = phone().answer(&session).unwrap();
        assert_eq!(n.direction, RecvOnly);
    }

    #[test]
    fn unacceptable_streams_are_rejected_in_place() {
        let offer = SessionDescription::parse(
            "v=0\r\no=- 5 5 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
             m=video 20002 RTP/AVP 31 34\r\n\
             m=audio 20004 RTP/SAVP 0\r\n\
             m=audio 0 RTP/AVP 0\r\n\
             m=audio 20006 RTP/AVP 18\r\n\
             m=audio 20000 RTP/AVP 0 8\r\n\
             m=audio 20008 RTP/AVP 8\r\n\
             m=image 20010 udptl t38\r\n",
        )
        .unwrap();
        let (answer, n) = phone().answer(&offer).unwrap();
        let lines: Vec<String> = answer
            .media()
            .iter()
            .map(|m| m.media_line().to_string())
            .collect();
        assert_eq!(
            lines,
            [
                "video 0 RTP/AVP 31 34",
                "audio 0 RTP/SAVP 0",
                "audio 0 RTP/AVP 0",
                "audio 0 RTP/AVP 18",
                "audio 40000 RTP/AVP 0 8",
                "audio 0 RTP/AVP 8",
                "image 0 udptl t38",
            ]
        );
        assert!(answer
            .media()
            .iter()
            .filter(|m| m.port() == 0)
            .all(|m| m.lines().is_empty()));
        assert_eq!(n.media_index, 4);
        assert_eq!(n.remote_rtp.port(), 20000);
        assert_eq!(
            SessionDescription::parse(&answer.to_string()).unwrap(),
            answer
        );
    }

    #[test]
    fn no_common_codec_is_488() {
        let g729 = offer_with("", "18", "");
        let err = phone().answer(&g729).unwrap_err();
        assert_eq!(err, SdpError::NoCommonCodec);
        assert_eq!(err.status_code(), 488);
        // telephone-event alone is no codec.
        let events = offer_with("", "101", "a=rtpmap:101 telephone-event/8000\r\n");
        assert_eq!(phone().answer(&events), Err(SdpError::NoCommonCodec));
        let video = SessionDescription::parse(
            "v=0\r\no=- 5 5 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
             m=video 20002 RTP/AVP 31\r\n",
        )
        .unwrap();
        assert_eq!(phone().answer(&video), Err(SdpError::NoCommonCodec));
    }

    #[test]
    fn hold_offers() {
        let legacy = SessionDescription::parse(
            "v=0\r\no=- 5 6 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\n\
             m=audio 20000 RTP/AVP 0\r\n",
        )
        .unwrap();
        let (answer, n) = phone().answer(&legacy).unwrap();
        assert!(n.remote_hold);
        assert_eq!(n.remote_direction, Direction::SendRecv);
        assert_eq!(n.direction, Direction::RecvOnly);
        assert_eq!(n.remote_rtp.ip().to_string(), "0.0.0.0");
        assert_eq!(
            answer.media()[0].direction_attribute(),
            Some(Direction::RecvOnly)
        );
        let sendonly = offer_with("", "0", "a=sendonly\r\n");
        let (_, n) = phone().answer(&sendonly).unwrap();
        assert!(n.remote_hold);
        let active = offer_with("", "0", "a=sendrecv\r\n");
        assert!(!phone().answer(&active).unwrap().1.remote_hold);
    }

    #[test]
    fn timing_ptime_and_rtcp() {
        let offer = SessionDescription::parse(
            "v=0\r\no=- 5 5 IN IP4 h\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=3034423619 3042462419\r\n\
             m=audio 20000 RTP/AVP 0\r\na=ptime:30\r\na=rtcp:20011 IN IP4 198.51.100.8\r\n",
        )
        .unwrap();
        let mut us = phone();
        us.rtcp = Some(Rtcp {
            port: 40001,
            address: None,
        });
        us.ptime = Some(Duration::from_micros(22_500));
        let (answer, n) = us.answer(&offer).unwrap();
        assert_eq!(answer.timing(), offer.timing());
        assert_eq!(n.ptime, Some(Duration::from_millis(30)));
        assert_eq!(n.remote_rtcp, Some("198.51.100.8:20011".parse().unwrap()));
        let m = &answer.media()[0];
        assert_eq!(m.ptime(), Some(Duration::from_micros(22_500)));
        assert_eq!(m.rtcp().map(|r| r.port), Some(40001));
    }

    #[test]
    fn offerer_reads_the_answer() {
        let alice = phone();
        let offer = alice.offer().unwrap();
        let mut bob = LocalMedia::new(
            "203.0.113.20".parse().unwrap(),
            30000,
            vec![Codec::GSM, Codec::PCMA, Codec::TELEPHONE_EVENT],
            1,
            1,
        );
        bob.direction = Direction::RecvOnly;
        let (answer, bob_view) = bob.answer(&offer).unwrap();
        // Alice offered PCMA first: Bob sends PCMA.
        assert!(bob_view.codec.same_format(&Codec::PCMA));
        assert_eq!(bob_view.direction, Direction::RecvOnly);
        let n = process_answer(&offer, &answer).unwrap();
        assert_eq!(n.remote_rtp, "203.0.113.20:30000".parse().unwrap());
        assert_eq!(n.remote_rtcp, Some("203.0.113.20:30001".parse().unwrap()));
        assert!(n.codec.same_format(&Codec::PCMA));
        assert_eq!(numbers(&n.codecs), [8, 3, 101]);
        assert_eq!(n.telephone_event, Some(101));
        assert_eq!(n.ptime, Some(Duration::from_millis(20)));
        assert_eq!(n.direction, Direction::SendOnly);
        assert_eq!(n.remote_direction, Direction::RecvOnly);
        assert!(!n.remote_hold);
    }

    #[test]
    fn answers_that_break_the_rules() {
        let offer = phone().offer().unwrap();
        let answer = |m: &str| {
            SessionDescription::parse(&format!(
                "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 203.0.113.20\r\nt=0 0\r\n{m}"
            ))
            .unwrap()
        };
        assert_eq!(
            process_answer(&offer, &answer("")),
            Err(SdpError::MediaCountMismatch {
                offer: 1,
                answer: 0
            })
        );
        let two = answer("m=audio 30000 RTP/AVP 8\r\nm=audio 0 RTP/AVP 0\r\n");
        assert!(matches!(
            process_answer(&offer, &two),
            Err(SdpError::MediaCountMismatch {
                offer: 1,
                answer: 2
            })
        ));
        let g729 = answer("m=audio 30000 RTP/AVP 18\r\n");
        assert_eq!(
            process_answer(&offer, &g729),
            Err(SdpError::NotOffered {
                index: 0,
                what: "format",
                value: "18".into()
            })
        );
        let remapped = answer("m=audio 30000 RTP/AVP 101\r\na=rtpmap:101 opus/48000/2\r\n");
        assert!(matches!(
            process_answer(&offer, &remapped),
            Err(SdpError::NotOffered { what: "format", .. })
        ));
        let video = answer("m=video 30000 RTP/AVP 0\r\n");
        assert!(matches!(
            process_answer(&offer, &video),
            Err(SdpError::NotOffered {
                what: "media type",
                ..
            })
        ));
        let rejected = answer("m=audio 0 RTP/AVP 0\r\n");
        assert_eq!(
            process_answer(&offer, &rejected),
            Err(SdpError::NoCommonCodec)
        );
        let events_only = answer("m=audio 30000 RTP/AVP 101\r\n");
        assert_eq!(
            process_answer(&offer, &events_only),
            Err(SdpError::NoCommonCodec)
        );
    }

    #[test]
    fn answers_to_reoffers_continue_our_session() {
        let offer = SessionDescription::parse(XLITE).unwrap();
        let (first, _) = phone().answer(&offer).unwrap();
        // A session refresh with the same offer: the same answer, the same version.
        let (mut again, _) = phone().answer(&offer).unwrap();
        again.continue_from(&first);
        assert_eq!(again, first);
        // The peer puts us on hold: our answer changes, its version goes up by one.
        let mut hold = offer.clone();
        hold.media_mut()[0].set_direction(Direction::SendOnly);
        hold.bump_version();
        let (mut held, n) = phone().answer(&hold).unwrap();
        held.continue_from(&first);
        assert!(n.remote_hold);
        assert_eq!(held.origin().session_version, 78);
        assert_eq!(held.media_direction(&held.media()[0]), Direction::RecvOnly);
    }

    #[test]
    fn payload_types_compare_as_numbers() {
        // Found by fuzzing: an offer writing `03` for GSM, answered with `3`.
        let offer = offer_with("", "03", "a=fmtp:03 x=1\r\n");
        let (answer, n) = local(vec![Codec::GSM]).answer(&offer).unwrap();
        assert_eq!(answer.media()[0].formats(), ["3"]);
        assert_eq!(n.codec.fmtp.as_deref(), Some("x=1"));
        let theirs = process_answer(&offer, &answer).unwrap();
        assert_eq!(theirs.codec.payload_type_number(), 3);
    }

    #[test]
    fn offerer_sees_hold_in_a_reanswer() {
        let offer = phone().offer().unwrap();
        let held = SessionDescription::parse(
            "v=0\r\no=- 1 2 IN IP4 h\r\ns=-\r\nc=IN IP4 203.0.113.20\r\nt=0 0\r\n\
             m=audio 30000 RTP/AVP 0\r\na=inactive\r\n",
        )
        .unwrap();
        let n = process_answer(&offer, &held).unwrap();
        assert!(n.remote_hold);
        assert_eq!(n.direction, Direction::Inactive);
    }

    const KEY_A: &str = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
    const KEY_B: &str = "inline:QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNk";
    const SHA1_80: &str = "AES_CM_128_HMAC_SHA1_80";
    const SHA1_32: &str = "AES_CM_128_HMAC_SHA1_32";

    /// An offer with one audio stream over `proto` and `media_extra` lines.
    fn srtp_offer(proto: &str, media_extra: &str) -> SessionDescription {
        SessionDescription::parse(&format!(
            "v=0\r\no=- 5 5 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
             m=audio 20000 {proto} 0\r\n{media_extra}"
        ))
        .unwrap()
    }

    /// A chooser that takes the suites in `usable` and answers with KEY_B.
    fn chooser(usable: &'static [&'static str]) -> impl FnMut(&Crypto) -> Option<Crypto> {
        move |offered: &Crypto| {
            usable
                .contains(&offered.suite.as_str())
                .then(|| Crypto::new(99, &offered.suite, KEY_B))
        }
    }

    #[test]
    fn srtp_offer_uses_rtp_savp_with_one_line_per_suite() {
        let mut l = phone();
        l.codecs = vec![Codec::PCMU];
        l.crypto = vec![
            Crypto::new(1, SHA1_80, KEY_A),
            Crypto::new(2, SHA1_32, KEY_A),
        ];
        let text = l.offer().unwrap().to_string();
        assert!(text.ends_with(&format!(
            "m=audio 40000 RTP/SAVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\n\
             a=crypto:1 {SHA1_80} {KEY_A}\r\na=crypto:2 {SHA1_32} {KEY_A}\r\na=sendrecv\r\n"
        )));
        let sdp = SessionDescription::parse(&text).unwrap();
        assert!(sdp.media()[0].is_srtp());
        assert_eq!(sdp.media()[0].cryptos().collect::<Vec<_>>(), l.crypto);
    }

    #[test]
    fn answer_picks_the_first_usable_line_with_its_tag_and_our_key() {
        let offer = srtp_offer(
            "RTP/SAVP",
            &format!(
                "a=crypto:7 AEAD_AES_256_GCM inline:x\r\n\
                 a=crypto:1 {SHA1_80} {KEY_A}\r\na=crypto:2 {SHA1_32} {KEY_A}\r\n"
            ),
        );
        let (answer, n) = phone()
            .answer_srtp(&offer, false, &mut chooser(&[SHA1_80, SHA1_32]))
            .unwrap();
        let m = &answer.media()[0];
        assert_eq!(m.proto(), "RTP/SAVP");
        assert_eq!(
            m.cryptos().collect::<Vec<_>>(),
            [Crypto::new(1, SHA1_80, KEY_B)]
        );
        let pair = n.crypto.clone().unwrap();
        assert_eq!(pair.ours, Crypto::new(1, SHA1_80, KEY_B));
        assert_eq!(pair.theirs, Crypto::new(1, SHA1_80, KEY_A));
        // The offerer reads the same pair the other way round.
        let theirs = process_answer(&offer, &answer).unwrap();
        let back = theirs.crypto.unwrap();
        assert_eq!((back.ours, back.theirs), (pair.theirs, pair.ours));

        // Only the 32-bit suite usable: its line (tag 2) is answered.
        let (answer, n) = phone()
            .answer_srtp(&offer, false, &mut chooser(&[SHA1_32]))
            .unwrap();
        assert_eq!(
            answer.media()[0].cryptos().collect::<Vec<_>>(),
            [Crypto::new(2, SHA1_32, KEY_B)]
        );
        assert_eq!(n.crypto.map(|p| p.theirs.tag), Some(2));

        // A repeated tag: only its first line counts (here an unusable one).
        let repeated = srtp_offer(
            "RTP/SAVP",
            &format!("a=crypto:1 {SHA1_32} {KEY_A}\r\na=crypto:1 {SHA1_80} {KEY_A}\r\n"),
        );
        assert_eq!(
            phone().answer_srtp(&repeated, false, &mut chooser(&[SHA1_80])),
            Err(SdpError::NoCommonCodec)
        );
    }

    #[test]
    fn savp_offer_without_a_usable_line_is_refused() {
        let unusable = srtp_offer("RTP/SAVP", "a=crypto:1 AEAD_AES_256_GCM inline:x\r\n");
        assert_eq!(
            phone().answer_srtp(&unusable, false, &mut chooser(&[SHA1_80])),
            Err(SdpError::NoCommonCodec)
        );
        let no_lines = srtp_offer("RTP/SAVP", "");
        assert_eq!(
            phone().answer_srtp(&no_lines, false, &mut chooser(&[SHA1_80])),
            Err(SdpError::NoCommonCodec)
        );
        // Without SRTP (a plain answer) an RTP/SAVP offer is refused whatever its keys.
        let usable = srtp_offer("RTP/SAVP", &format!("a=crypto:1 {SHA1_80} {KEY_A}\r\n"));
        assert_eq!(phone().answer(&usable), Err(SdpError::NoCommonCodec));
        // The refused stream keeps its place with port 0; a plain one after it is taken.
        let two = SessionDescription::parse(
            "v=0\r\no=- 5 5 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
             m=audio 20000 RTP/SAVP 0\r\na=crypto:1 AEAD_AES_256_GCM inline:x\r\n\
             m=audio 20002 RTP/AVP 0\r\n",
        )
        .unwrap();
        let (answer, n) = phone()
            .answer_srtp(&two, false, &mut chooser(&[SHA1_80]))
            .unwrap();
        assert_eq!(answer.media()[0].port(), 0);
        assert_eq!(answer.media()[0].proto(), "RTP/SAVP");
        assert_eq!(answer.media()[1].port(), 40000);
        assert_eq!((n.media_index, n.crypto), (1, None));
    }

    #[test]
    fn plain_offers_under_srtp_policies() {
        let plain = srtp_offer("RTP/AVP", "");
        let (answer, n) = phone()
            .answer_srtp(&plain, false, &mut chooser(&[SHA1_80]))
            .unwrap();
        assert_eq!(answer.media()[0].proto(), "RTP/AVP");
        assert_eq!(n.crypto, None);
        assert_eq!(answer.media()[0].cryptos().count(), 0);
        assert_eq!(
            phone().answer_srtp(&plain, true, &mut chooser(&[SHA1_80])),
            Err(SdpError::NoCommonCodec)
        );
        // Best-effort SRTP: RTP/AVP with a=crypto is answered with a key, in RTP/AVP.
        let best_effort = srtp_offer("RTP/AVP", &format!("a=crypto:3 {SHA1_32} {KEY_A}\r\n"));
        let (answer, n) = phone()
            .answer_srtp(&best_effort, true, &mut chooser(&[SHA1_32]))
            .unwrap();
        assert_eq!(answer.media()[0].proto(), "RTP/AVP");
        assert_eq!(
            n.crypto.map(|p| p.ours),
            Some(Crypto::new(3, SHA1_32, KEY_B))
        );
        // A plain answer ignores the lines.
        let (answer, n) = phone().answer(&best_effort).unwrap();
        assert_eq!((answer.media()[0].cryptos().count(), n.crypto), (0, None));
    }

    #[test]
    fn offerer_checks_the_answered_line() {
        let mut l = phone();
        l.crypto = vec![
            Crypto::new(1, SHA1_80, KEY_A),
            Crypto::new(2, SHA1_32, KEY_A),
        ];
        let offer = l.offer().unwrap();
        let answer = |proto: &str, extra: &str| {
            SessionDescription::parse(&format!(
                "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 203.0.113.20\r\nt=0 0\r\n\
                 m=audio 30000 {proto} 0\r\n{extra}"
            ))
            .unwrap()
        };
        let good = process_answer(
            &offer,
            &answer("RTP/SAVP", &format!("a=crypto:2 {SHA1_32} {KEY_B}\r\n")),
        )
        .unwrap();
        assert_eq!(
            good.crypto,
            Some(CryptoPair {
                ours: Crypto::new(2, SHA1_32, KEY_A),
                theirs: Crypto::new(2, SHA1_32, KEY_B),
            })
        );
        assert_eq!(
            process_answer(&offer, &answer("RTP/SAVP", "")),
            Err(SdpError::Crypto(
                "the answer accepts RTP/SAVP without an a=crypto line"
            ))
        );
        assert_eq!(
            process_answer(
                &offer,
                &answer("RTP/SAVP", &format!("a=crypto:5 {SHA1_32} {KEY_B}\r\n"))
            ),
            Err(SdpError::NotOffered {
                index: 0,
                what: "crypto tag",
                value: "5".into()
            })
        );
        assert!(matches!(
            process_answer(
                &offer,
                &answer("RTP/SAVP", &format!("a=crypto:1 {SHA1_32} {KEY_B}\r\n"))
            ),
            Err(SdpError::Crypto(_))
        ));
        assert!(matches!(
            process_answer(&offer, &answer("RTP/AVP", "")),
            Err(SdpError::NotOffered {
                what: "transport",
                ..
            })
        ));
        assert_eq!(SdpError::Crypto("x").status_code(), 488);
    }

    #[test]
    fn a_malformed_crypto_line_is_a_parse_error_with_its_line() {
        let err = SessionDescription::parse(
            "v=0\r\no=- 5 5 IN IP4 198.51.100.7\r\ns=-\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
             m=audio 20000 RTP/SAVP 0\r\na=crypto:one AES_CM_128_HMAC_SHA1_80 inline:x\r\n",
        )
        .unwrap_err();
        assert_eq!(err.line(), Some(7));
        assert_eq!(
            err.to_string(),
            "line 7: bad a=crypto attribute: tag is not 1 to 9 digits"
        );
    }
}
