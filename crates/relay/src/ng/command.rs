//! The keys of NG `offer` and `answer` that matter to this relay, read into a
//! [`MediaRequest`] (server side) and written from one (client side).
//!
//! Read: `call-id`, `from-tag`, `to-tag`, `sdp`, `flags` (`trust-address`,
//! `SIP-source-address`, `symmetric`, `asymmetric`; also the legacy `replace-origin`),
//! `replace` (`origin`, `session-connection`), `ICE` (`remove`), `received-from`
//! (`["IP4", "a.b.c.d"]`), `media-address`; for SRTP bridging ([`crate::srtp`])
//! `transport-protocol` (`RTP/AVP`, `RTP/SAVP`, and their `F` forms: what Kamailio's
//! `rtpengine_manage("RTP/AVP")` or `("RTP/SAVP")` sends), the flag `SDES-off` (also as
//! `SDES: ["off"]`), and `DTLS` (`off`, `no`, `disable`, `passive`: accepted; the relay
//! is always DTLS-passive); for the WebRTC gateway ([`crate::webrtc`])
//! `transport-protocol=UDP/TLS/RTP/SAVPF` or `ICE=force` (the receiver speaks WebRTC). Options this relay cannot honour come back as warnings; keys it does not know
//! (Kamailio sends `via-branch`, `supports`, ...) are ignored, as rtpengine does.

use std::net::IpAddr;

use crate::bencode::Bencode;
use crate::error::RelayError;
use crate::request::{AddressSource, Flags, MediaRequest};
use crate::srtp::Profile;

/// Flags accepted without effect: what this relay does anyway (one interface, no kernel
/// forwarding, RTCP always relayed).
const HARMLESS_FLAGS: [&str; 6] = [
    "port-latching",
    "replace-session-connection",
    "no-rtcp-attribute",
    "full-rtcp-attribute",
    "loop-protect",
    "record-call",
];

/// Reads an offer or answer command; the warnings name what was ignored.
pub fn read_request(dict: &Bencode) -> Result<(MediaRequest, Vec<String>), RelayError> {
    let mut warnings = Vec::new();
    let text = |key: &'static str| -> Result<Option<String>, RelayError> {
        match dict.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_str()
                .map(|s| Some(s.to_owned()))
                .ok_or(RelayError::InvalidKey(key)),
        }
    };
    let call_id = text("call-id")?.ok_or(RelayError::MissingKey("call-id"))?;
    let from_tag = text("from-tag")?.ok_or(RelayError::MissingKey("from-tag"))?;
    let to_tag = text("to-tag")?.filter(|t| !t.is_empty());
    let sdp = dict
        .get("sdp")
        .and_then(Bencode::as_bytes)
        .ok_or(RelayError::MissingKey("sdp"))?
        .to_vec();
    let mut flags = Flags::default();
    for flag in strings(dict, "flags")? {
        match flag.to_ascii_lowercase().replace('_', "-").as_str() {
            "trust-address" => flags.address = AddressSource::Sdp,
            "sip-source-address" => flags.address = AddressSource::SipSource,
            "symmetric" => flags.symmetric = true,
            "asymmetric" => flags.symmetric = false,
            "replace-origin" => flags.replace_origin = true,
            "sdes-off" | "sdes-no" => flags.sdes_off = true,
            f if HARMLESS_FLAGS.contains(&f) => {}
            _ => warnings.push(format!("flag {flag} ignored")),
        }
    }
    for item in strings(dict, "replace")? {
        match item.to_ascii_lowercase().as_str() {
            "origin" => flags.replace_origin = true,
            "session-connection" | "session connection" => {}
            _ => warnings.push(format!("replace {item} ignored")),
        }
    }
    if let Some(ice) = dict.get("ICE") {
        match ice.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("remove") => flags.remove_ice = true,
            Some("force") => flags.webrtc = true,
            _ => warnings.push("ICE option ignored: ICE attributes are removed".into()),
        }
    }
    if let Some(t) = dict.get("transport-protocol") {
        let t = t
            .as_str()
            .ok_or(RelayError::InvalidKey("transport-protocol"))?;
        if t.eq_ignore_ascii_case(crate::webrtc::sdp::WEBRTC_PROTO) {
            flags.webrtc = true;
        } else {
            flags.transport = Some(
                t.parse::<Profile>()
                    .map_err(|_| RelayError::InvalidKey("transport-protocol"))?,
            );
        }
    }
    for item in strings(dict, "SDES")? {
        match item.to_ascii_lowercase().as_str() {
            "off" | "no" => flags.sdes_off = true,
            _ => warnings.push(format!("SDES {item} ignored")),
        }
    }
    if let Some(dtls) = dict.get("DTLS") {
        match dtls.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("off" | "no" | "disable" | "passive") => {}
            _ => warnings.push("DTLS option ignored: the relay is DTLS-passive".into()),
        }
    }
    let received_from = match dict.get("received-from") {
        None => None,
        Some(v) => Some(
            v.as_list()
                .and_then(|l| l.get(1))
                .and_then(Bencode::as_str)
                .and_then(|s| s.parse::<IpAddr>().ok())
                .ok_or(RelayError::InvalidKey("received-from"))?,
        ),
    };
    if let Some(v) = dict.get("media-address") {
        flags.media_address = Some(
            v.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or(RelayError::InvalidKey("media-address"))?,
        );
    }
    Ok((
        MediaRequest {
            call_id,
            from_tag,
            to_tag,
            sdp,
            received_from,
            flags,
        },
        warnings,
    ))
}

/// A list of strings under `key` (absent: empty). A single string counts as a list of one.
fn strings(dict: &Bencode, key: &'static str) -> Result<Vec<String>, RelayError> {
    match dict.get(key) {
        None => Ok(Vec::new()),
        Some(Bencode::List(items)) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(str::to_owned)
                    .ok_or(RelayError::InvalidKey(key))
            })
            .collect(),
        Some(v) => v
            .as_str()
            .map(|s| vec![s.to_owned()])
            .ok_or(RelayError::InvalidKey(key)),
    }
}

/// The command dictionary of an offer (`is_offer`) or answer for `request`.
pub fn write_request(request: &MediaRequest, is_offer: bool) -> Bencode {
    let mut d = Bencode::dict();
    d.insert(
        "command",
        Bencode::str(if is_offer { "offer" } else { "answer" }),
    )
    .insert("call-id", Bencode::str(&request.call_id))
    .insert("from-tag", Bencode::str(&request.from_tag))
    .insert("sdp", Bencode::Bytes(request.sdp.clone()));
    if let Some(to_tag) = &request.to_tag {
        d.insert("to-tag", Bencode::str(to_tag));
    }
    let f = &request.flags;
    let mut flags = vec![Bencode::str(match f.address {
        AddressSource::Sdp => "trust-address",
        AddressSource::SipSource => "SIP-source-address",
    })];
    flags.push(Bencode::str(if f.symmetric {
        "symmetric"
    } else {
        "asymmetric"
    }));
    if f.sdes_off {
        flags.push(Bencode::str("SDES-off"));
    }
    if let Some(profile) = f.transport {
        d.insert("transport-protocol", Bencode::str(profile.name()));
    }
    if f.webrtc {
        d.insert(
            "transport-protocol",
            Bencode::str(crate::webrtc::sdp::WEBRTC_PROTO),
        );
        d.insert("DTLS", Bencode::str("passive"));
    }
    d.insert("flags", Bencode::List(flags));
    let mut replace = vec![Bencode::str("session-connection")];
    if f.replace_origin {
        replace.push(Bencode::str("origin"));
    }
    d.insert("replace", Bencode::List(replace));
    if f.remove_ice {
        d.insert("ICE", Bencode::str("remove"));
    }
    if let Some(ip) = request.received_from {
        let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
        d.insert(
            "received-from",
            Bencode::List(vec![Bencode::str(family), Bencode::str(&ip.to_string())]),
        );
    }
    if let Some(ip) = f.media_address {
        d.insert("media-address", Bencode::str(&ip.to_string()));
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> MediaRequest {
        MediaRequest {
            call_id: "c1".into(),
            from_tag: "a".into(),
            to_tag: Some("b".into()),
            sdp: b"v=0\r\n".to_vec(),
            received_from: Some([192, 0, 2, 7].into()),
            flags: Flags {
                address: AddressSource::SipSource,
                media_address: Some([198, 51, 100, 1].into()),
                symmetric: false,
                remove_ice: true,
                replace_origin: true,
                advertise: None,
                transport: Some(Profile::Savp),
                sdes_off: true,
                webrtc: false,
            },
        }
    }

    #[test]
    fn written_requests_read_back_equal() {
        for is_offer in [true, false] {
            let req = sample();
            let (back, warnings) = read_request(&write_request(&req, is_offer)).unwrap();
            assert_eq!(back, req);
            assert!(warnings.is_empty(), "{warnings:?}");
        }
    }

    #[test]
    fn kamailio_style_offer_reads_with_warnings_for_unknown_flags() {
        let raw = b"d7:call-id2:c15:flagsl13:trust-address10:xyz-thingye8:from-tag1:a\
            7:replacel6:origin18:session-connectione13:received-froml3:IP48:10.0.0.9e\
            3:sdp5:v=0\r\n8:supportsl10:load limite10:via-branch3:z9he";
        let dict = Bencode::decode(raw).unwrap();
        let (req, warnings) = read_request(&dict).unwrap();
        assert_eq!(req.received_from, Some([10, 0, 0, 9].into()));
        assert!(req.flags.replace_origin);
        assert_eq!(req.flags.address, AddressSource::Sdp);
        assert_eq!(warnings, ["flag xyz-thingy ignored"]);
    }

    #[test]
    fn srtp_options_as_kamailio_sends_them() {
        let raw = b"d7:call-id2:c15:flagsl8:SDES-offe8:from-tag1:a3:sdp5:v=0\r\n\
            18:transport-protocol7:RTP/AVP4:DTLS3:offe";
        let (req, warnings) = read_request(&Bencode::decode(raw).unwrap()).unwrap();
        assert_eq!(req.flags.transport, Some(Profile::Avp));
        assert!(req.flags.sdes_off);
        assert!(warnings.is_empty(), "{warnings:?}");
        let raw = b"d7:call-id2:c14:SDESl3:offe8:from-tag1:a3:sdp5:v=0\r\n\
            18:transport-protocol9:RTP/SAVPFe";
        let (req, _) = read_request(&Bencode::decode(raw).unwrap()).unwrap();
        assert_eq!(req.flags.transport, Some(Profile::Savp));
        assert!(req.flags.sdes_off);
        let raw = b"d7:call-id2:c18:from-tag1:a3:sdp5:v=0\r\n\
            18:transport-protocol17:UDP/TLS/RTP/SAVPFe";
        let (req, _) = read_request(&Bencode::decode(raw).unwrap()).unwrap();
        assert!(req.flags.webrtc, "the receiver is WebRTC");
        assert_eq!(req.flags.transport, None);
        let raw = b"d7:call-id2:c18:from-tag1:a3:sdp5:v=0\r\n\
            18:transport-protocol8:UDP/SCTPe";
        assert!(matches!(
            read_request(&Bencode::decode(raw).unwrap()),
            Err(RelayError::InvalidKey("transport-protocol"))
        ));
    }

    #[test]
    fn missing_and_invalid_keys_are_named() {
        let d = Bencode::decode(b"d8:from-tag1:a3:sdp1:xe").unwrap();
        assert!(matches!(
            read_request(&d),
            Err(RelayError::MissingKey("call-id"))
        ));
        let d = Bencode::decode(b"d7:call-id1:c8:from-tag1:a3:sdp1:x13:received-fromi4ee").unwrap();
        assert!(matches!(
            read_request(&d),
            Err(RelayError::InvalidKey("received-from"))
        ));
    }
}
