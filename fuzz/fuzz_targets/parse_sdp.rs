//! Fuzzes `SessionDescription::from_bytes` on arbitrary bodies: every accepted description
//! must serialize and parse again to an equal value, every typed view must answer, and the
//! relay's rewrites and the phone's answers (plain and SDES-SRTP) must yield descriptions that
//! parse again too, and every `a=crypto` line the parser accepted must write back as read.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdp::answer::process_answer;
use sdp::{Codec, Crypto, Direction, LocalMedia, Rtcp, SessionDescription};

fuzz_target!(|data: &[u8]| {
    let Ok(sdp) = SessionDescription::from_bytes(data) else {
        return;
    };
    let text = sdp.to_string();
    let again = match SessionDescription::parse(&text) {
        Ok(s) => s,
        Err(e) => panic!("serialized description does not parse ({e}): {text:?}"),
    };
    assert_eq!(again, sdp, "round trip changed the description");
    assert_eq!(again.to_string(), text);
    read_everything(&sdp);
    rewrite(&sdp);
    answer(&sdp);
    answer_srtp(&sdp);
});

/// Calls every typed view.
fn read_everything(sdp: &SessionDescription) {
    let _ = (
        sdp.origin(),
        sdp.session_name(),
        sdp.connection(),
        sdp.timing(),
    );
    let _ = (sdp.direction_attribute(), sdp.uses_ice(), sdp.lines().len());
    let _ = sdp.attributes().count();
    for m in sdp.media() {
        let _ = (
            m.media_line(),
            m.media_type(),
            m.port(),
            m.proto(),
            m.formats(),
        );
        let _ = (
            m.connection(),
            sdp.media_connection(m),
            sdp.media_direction(m),
        );
        let _ = (
            sdp.is_on_hold(m),
            m.direction_attribute(),
            m.rtcp(),
            m.rtcp_mux(),
        );
        let _ = (m.ptime(), m.maxptime(), m.uses_ice(), m.lines().len());
        for pt in m.payload_types() {
            let _ = (m.rtpmap(pt), m.fmtp(&pt.to_string()), m.codec(pt));
        }
        let _ = (m.rtpmaps().count(), m.fmtps().count(), m.codecs());
        let _ = m.is_srtp();
        for crypto in m.cryptos() {
            let _ = crypto.inline_key();
            assert_eq!(Crypto::parse(&crypto.to_string()).as_ref(), Ok(&crypto));
        }
    }
}

/// A relay's rewrites; the result must parse again to the rewritten value.
fn rewrite(sdp: &SessionDescription) {
    let mut s = sdp.clone();
    s.replace_connection_addresses([203, 0, 113, 1].into());
    s.set_origin_address([203, 0, 113, 1].into());
    s.bump_version();
    s.set_direction(Direction::SendOnly);
    s.remove_attributes_everywhere("candidate");
    for m in s.media_mut() {
        // A disabled stream may lack an address (RFC 8866 §5.7): leave its port at 0.
        if m.port() != 0 {
            m.set_port(m.port().wrapping_add(2));
        }
        m.set_rtcp(Rtcp {
            port: 9,
            address: None,
        });
        m.set_direction(Direction::Inactive);
    }
    let text = s.to_string();
    match SessionDescription::parse(&text) {
        Ok(again) => assert_eq!(again, s, "rewrite does not survive a round trip"),
        Err(e) => panic!("rewritten description does not parse ({e}): {text:?}"),
    }
}

/// The phone's answer: when there is one, it parses again and the offerer can read it.
fn answer(offer: &SessionDescription) {
    let phone = LocalMedia::new(
        [192, 0, 2, 1].into(),
        4000,
        vec![Codec::PCMU, Codec::PCMA, Codec::GSM, Codec::TELEPHONE_EVENT],
        1,
        1,
    );
    let Ok((answer, negotiated)) = phone.answer(offer) else {
        return;
    };
    let text = answer.to_string();
    match SessionDescription::parse(&text) {
        Ok(again) => assert_eq!(again, answer),
        Err(e) => panic!("answer does not parse ({e}): {text:?}"),
    }
    assert_eq!(answer.media().len(), offer.media().len());
    let theirs = process_answer(offer, &answer).expect("the offerer accepts our answer");
    assert_eq!(theirs.media_index, negotiated.media_index);
}

/// The phone's SDES-SRTP answer, taking every AES_CM_128 line: when there is one, it parses
/// again, the offerer accepts it, and both read the same pair of keys.
fn answer_srtp(offer: &SessionDescription) {
    let phone = LocalMedia::new([192, 0, 2, 1].into(), 4000, vec![Codec::PCMU], 1, 1);
    let mut choose = |offered: &Crypto| {
        offered.suite.starts_with("AES_CM_128_HMAC_SHA1_").then(|| {
            Crypto::new(
                0,
                &offered.suite,
                "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            )
        })
    };
    let Ok((answer, negotiated)) = phone.answer_srtp(offer, false, &mut choose) else {
        return;
    };
    let text = answer.to_string();
    match SessionDescription::parse(&text) {
        Ok(again) => assert_eq!(again, answer),
        Err(e) => panic!("SRTP answer does not parse ({e}): {text:?}"),
    }
    let theirs = process_answer(offer, &answer).expect("the offerer accepts our SRTP answer");
    assert_eq!(theirs.media_index, negotiated.media_index);
    let mirrored = theirs.crypto.map(|pair| (pair.theirs, pair.ours));
    let ours = negotiated.crypto.map(|pair| (pair.ours, pair.theirs));
    assert_eq!(mirrored, ours);
}
