//! SDES (RFC 4568) meets SRTP: the `a=crypto` lines of an offer or answer (`sdp::Crypto`)
//! turned into keys and contexts. Shared by the endpoints (`protection`: the phone and the media
//! services) and the relay (`relay::srtp`), which all offer, answer and key streams the same way.
//!
//! - [`offered_crypto`]: the lines of an offer, one per suite, 80-bit tag first;
//! - [`usable`]: whether an offered or answered line is one this implementation keys
//!   (a known suite, one `inline:` key without MKI, no session parameters);
//! - [`answer_crypto`]: the answer to an offered line, with a fresh key;
//! - [`session`]: both directions of a negotiated pair.

use sdp::{Crypto, CryptoPair};

use super::{CryptoSuite, KeyParams, MasterKey, SrtpError, SrtpSession};

/// Our `a=crypto` lines for an offer (RFC 4568 §7.1.1): one per suite, the 80-bit tag
/// first, tags 1 and 2, each with a fresh key.
pub fn offered_crypto() -> Result<Vec<Crypto>, SrtpError> {
    CryptoSuite::ALL
        .into_iter()
        .zip(1u32..)
        .map(|(suite, tag)| {
            let key = KeyParams::inline(MasterKey::random()?);
            Ok(Crypto::new(tag, suite.name(), &key.to_string()))
        })
        .collect()
}

/// The suite and key of a line this implementation can use (RFC 4568 §6.1, §6.3): a suite
/// it knows, exactly one `inline:` key without MKI, and no session parameters (each would
/// change how the stream is protected). The error says why not.
pub fn usable(line: &Crypto) -> Result<(CryptoSuite, KeyParams), SrtpError> {
    let suite: CryptoSuite = line.suite.parse()?;
    let [key] = line.key_params.as_slice() else {
        return Err(SrtpError::KeyParamsSyntax(line.key_params.join(";")));
    };
    let key: KeyParams = key.parse()?;
    if let Some(param) = line.session_params.first() {
        return Err(SrtpError::SessionParam(param.clone()));
    }
    Ok((suite, key))
}

/// Our answer line to an offered `a=crypto` line we can use (RFC 4568 §7.1.2): same tag
/// and suite, a fresh key of ours. `None` for a line we cannot use ([`usable`]).
pub fn answer_crypto(offered: &Crypto) -> Option<Crypto> {
    let suite = match usable(offered) {
        Ok((suite, _)) => suite,
        Err(e) => {
            tracing::debug!(tag = offered.tag, error = %e, "a=crypto line not usable");
            return None;
        }
    };
    let ours = KeyParams::inline(MasterKey::random().ok()?);
    Some(Crypto::new(offered.tag, suite.name(), &ours.to_string()))
}

/// The SRTP contexts of a negotiated stream: our key out, the peer's in.
pub fn session(pair: &CryptoPair) -> Result<SrtpSession, SrtpError> {
    let (suite, theirs) = usable(&pair.theirs)?;
    let (_, ours) = usable(&pair.ours)?;
    SrtpSession::new(suite, &ours.key, &theirs.key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offer_lines_are_both_suites_80_first_with_distinct_keys() {
        let lines = offered_crypto().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            (lines[0].tag, lines[0].suite.as_str()),
            (1, "AES_CM_128_HMAC_SHA1_80")
        );
        assert_eq!(
            (lines[1].tag, lines[1].suite.as_str()),
            (2, "AES_CM_128_HMAC_SHA1_32")
        );
        assert_ne!(lines[0].key_params, lines[1].key_params);
        assert!(lines[0].key_params[0].starts_with("inline:"));
    }

    #[test]
    fn unusable_offered_lines_are_not_answered() {
        let key = "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";
        let good = Crypto::new(4, "AES_CM_128_HMAC_SHA1_32", key);
        let answer = answer_crypto(&good).unwrap();
        assert_eq!(
            (answer.tag, answer.suite.as_str()),
            (4, "AES_CM_128_HMAC_SHA1_32")
        );
        assert_ne!(answer.key_params, good.key_params, "our own key");
        let unknown = Crypto::new(1, "AEAD_AES_128_GCM", key);
        let mki = Crypto::new(1, "AES_CM_128_HMAC_SHA1_80", &format!("{key}|2^20|1:4"));
        let short = Crypto::new(1, "AES_CM_128_HMAC_SHA1_80", "inline:AAAA");
        let mut params = good.clone();
        params.session_params.push("UNENCRYPTED_SRTP".into());
        let mut two_keys = good.clone();
        two_keys.key_params.push(key.into());
        for bad in [unknown, mki, short, params, two_keys] {
            assert_eq!(answer_crypto(&bad), None, "{bad}");
            assert!(usable(&bad).is_err(), "{bad}");
        }
    }
}
