//! SRTP and SRTCP (RFC 3711) with keys exchanged in SDP (SDES, RFC 4568).
//!
//! The cipher work is webrtc-rs's pure-Rust SRTP context (`webrtc-srtp`: AES-CM and
//! HMAC-SHA1 on RustCrypto); this module gives it typed values and the checks it lacks:
//!
//! - [`CryptoSuite`]: the two suites of RFC 4568 §6.2 a SIP phone offers,
//!   `AES_CM_128_HMAC_SHA1_80` and `AES_CM_128_HMAC_SHA1_32`;
//! - [`MasterKey`]: 16 octets of master key and 14 of master salt (RFC 3711 §8.2), random
//!   or from the base64 of an SDP `inline:` key;
//! - [`KeyParams`]: the `inline:<key>[|lifetime][|MKI:length]` key parameter of an
//!   `a=crypto` line (RFC 4568 §6.1); a master key identifier (MKI) is refused, as it would
//!   have to be carried in every packet and nobody offering SDES to a phone uses one;
//! - [`SrtpContext`]: one direction of one call — protect (send) or unprotect (receive)
//!   RTP and RTCP packets, with replay protection on the receiving side (RFC 3711 §3.3.2);
//! - [`SrtpSession`]: the two directions of a call, our key outbound and the peer's inbound.
//!
//! Packets that fail authentication, replays and packets too short to carry a tag come
//! back as an [`SrtpError`] (never a panic), for the caller to drop and count.
//!
//! ## State per SSRC, bounded
//!
//! webrtc-srtp keeps a rollover counter (RFC 3711 §3.3.1) or SRTCP index for every SSRC it
//! is shown, and makes that state *before* it checks the tag: a stream of forged packets
//! with random SSRCs would grow it without end. [`SrtpContext`] therefore shows its main
//! context only SSRCs that already authenticated (receiving) or that it protects
//! (sending), at most [`MAX_SSRCS`] of each kind: the first packet of an unknown SSRC is
//! checked in a *probe* context under the same key, which is thrown away and made again
//! after [`PROBE_TRIES`] such packets, so forged SSRCs cost a fixed amount of memory. A
//! receiving context that meets a new authenticated SSRC with [`MAX_SSRCS`] known starts
//! its main context afresh (the old SSRCs are gone: a phone that changed its SSRC that
//! often); a sending one refuses the new SSRC ([`SrtpError::TooManySsrcs`]), since a fresh
//! sending context would restart the indices of SSRCs it already protected and reuse
//! their keystream (RFC 3711 §9.1).
//!
//! ## Layout
//!
//! | item | what |
//! |---|---|
//! | [`CryptoSuite`] | suite names (RFC 4568 §6.2.1, §6.2.2) and tag lengths |
//! | [`MasterKey`] | master key and salt, random or base64 (RFC 4568 §6.1) |
//! | [`KeyParams`] | an `inline:` key parameter with its optional lifetime (RFC 4568 §6.1) |
//! | [`SrtpContext`] | protect/unprotect of RTP (RFC 3711 §3.1) and RTCP (§3.4) in one direction |
//! | [`SrtpSession`] | both directions of a call |
//! | [`SrtpError`] | what is wrong with a key, a suite or a packet |
//! | [`sdes`] | `a=crypto` lines (RFC 4568) offered, answered and keyed: shared by the phone, the media services and the relay |
//! | [`protection`] | [`Protection`]: an endpoint's SRTP of one call (the phone's, the media services'), with [`SrtpCounters`] of what it dropped |
//! | `replay` (private) | the replay list, moved by authenticated packets only (RFC 3711 §3.3.2) |

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use webrtc_srtp::context::Context;
use webrtc_srtp::protection_profile::ProtectionProfile;

/// Octets of an AES-128 master key (RFC 3711 §8.2).
pub const MASTER_KEY_LEN: usize = 16;
/// Octets of a master salt (RFC 3711 §8.2: 112 bits).
pub const MASTER_SALT_LEN: usize = 14;
/// Octets of the concatenated key and salt an `inline:` key carries (RFC 4568 §6.1).
pub const KEY_SALT_LEN: usize = MASTER_KEY_LEN + MASTER_SALT_LEN;
/// Octets of the SRTCP authentication tag of both suites (RFC 4568 §6.2.1, §6.2.2: SRTCP
/// always uses an 80-bit tag).
pub const RTCP_TAG_LEN: usize = 10;
/// Octets of the E flag and SRTCP index after an RTCP packet (RFC 3711 §3.4).
pub const SRTCP_INDEX_LEN: usize = 4;
/// The replay window of received packets (RFC 3711 §3.3.2 asks for at least 64).
pub const REPLAY_WINDOW: usize = 128;
/// SSRCs of RTP, and apart of RTCP, a context keeps state for (see the module docs).
pub const MAX_SSRCS: usize = 16;
/// Packets of unknown SSRCs a probe context checks before it is made again.
pub const PROBE_TRIES: u32 = 64;

/// An SRTP crypto suite of RFC 4568 §6.2: AES in counter mode with a 128-bit key, and
/// HMAC-SHA1 authentication tags of 80 or 32 bits on RTP (80 bits on RTCP for both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CryptoSuite {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 4568 §6.2.1): the default of RFC 3711.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32` (RFC 4568 §6.2.2): a 32-bit tag on RTP.
    AesCm128HmacSha1_32,
}

impl CryptoSuite {
    /// Every suite, in the order an offer lists them (the stronger tag first).
    pub const ALL: [CryptoSuite; 2] = [
        CryptoSuite::AesCm128HmacSha1_80,
        CryptoSuite::AesCm128HmacSha1_32,
    ];

    /// The suite's name in an `a=crypto` line.
    pub fn name(self) -> &'static str {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            CryptoSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    /// Octets of the authentication tag after each SRTP packet.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => 10,
            CryptoSuite::AesCm128HmacSha1_32 => 4,
        }
    }

    fn profile(self) -> ProtectionProfile {
        match self {
            CryptoSuite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
            CryptoSuite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        }
    }
}

impl fmt::Display for CryptoSuite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CryptoSuite {
    type Err = SrtpError;

    /// A suite by its name; names are case-sensitive tokens (RFC 4568 §9.2) but compared
    /// without case, as some phones write them in lower case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CryptoSuite::ALL
            .into_iter()
            .find(|suite| suite.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| SrtpError::UnknownSuite(s.to_owned()))
    }
}

/// A master key and master salt (RFC 3711 §8.2), as an `inline:` key carries them: 16
/// octets of key then 14 of salt (RFC 4568 §6.1). Its `Debug` does not show the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey([u8; KEY_SALT_LEN]);

impl MasterKey {
    /// A key from its 30 octets (key then salt).
    pub fn from_bytes(bytes: [u8; KEY_SALT_LEN]) -> Self {
        MasterKey(bytes)
    }

    /// A fresh key from the operating system's random source (RFC 4568 §8.1: every offer
    /// and answer gets a new key).
    pub fn random() -> Result<Self, SrtpError> {
        let mut bytes = [0u8; KEY_SALT_LEN];
        getrandom::getrandom(&mut bytes).map_err(|e| SrtpError::Random(e.to_string()))?;
        Ok(MasterKey(bytes))
    }

    /// The key from the base64 text of an `inline:` key (RFC 4568 §6.1; RFC 4648 §4, padding
    /// optional: 30 octets need none).
    pub fn from_base64(text: &str) -> Result<Self, SrtpError> {
        let decoded = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|e| SrtpError::Base64(e.to_string()))?;
        let bytes: [u8; KEY_SALT_LEN] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| SrtpError::KeyLength(decoded.len()))?;
        Ok(MasterKey(bytes))
    }

    /// The base64 text of an `inline:` key: 40 characters.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// The 16-octet master key.
    pub fn key(&self) -> &[u8] {
        &self.0[..MASTER_KEY_LEN]
    }

    /// The 14-octet master salt.
    pub fn salt(&self) -> &[u8] {
        &self.0[MASTER_KEY_LEN..]
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

/// The key parameter of an `a=crypto` line (RFC 4568 §6.1, §9.2):
/// `inline:<base64 key and salt>[|<lifetime>][|<MKI>:<length>]`.
///
/// The lifetime (`2^31` or a decimal number of packets) is kept and written back; an MKI
/// part is refused with [`SrtpError::MkiUnsupported`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyParams {
    /// The master key and salt.
    pub key: MasterKey,
    /// The key's lifetime in packets, if the line gave one.
    pub lifetime: Option<Lifetime>,
}

/// A master key lifetime (RFC 4568 §6.1): a number of packets, written as a power of two or
/// in decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifetime {
    /// `2^N` packets.
    PowerOfTwo(u8),
    /// A decimal number of packets.
    Packets(u64),
}

impl KeyParams {
    /// An `inline:` key with no lifetime.
    pub fn inline(key: MasterKey) -> Self {
        KeyParams {
            key,
            lifetime: None,
        }
    }
}

impl FromStr for KeyParams {
    type Err = SrtpError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (method, info) = s
            .split_once(':')
            .ok_or_else(|| SrtpError::KeyMethod(s.to_owned()))?;
        if !method.eq_ignore_ascii_case("inline") {
            return Err(SrtpError::KeyMethod(method.to_owned()));
        }
        let mut parts = info.split('|');
        let key = MasterKey::from_base64(parts.next().unwrap_or_default())?;
        let mut lifetime = None;
        for (i, part) in parts.enumerate() {
            // The MKI part is the one with a colon (RFC 4568 §9.2: mki-value ":" mki-length).
            if part.contains(':') {
                return Err(SrtpError::MkiUnsupported(part.to_owned()));
            }
            if i > 0 || lifetime.is_some() {
                return Err(SrtpError::KeyParamsSyntax(s.to_owned()));
            }
            lifetime = Some(parse_lifetime(part)?);
        }
        Ok(KeyParams { key, lifetime })
    }
}

fn parse_lifetime(text: &str) -> Result<Lifetime, SrtpError> {
    let bad = || SrtpError::Lifetime(text.to_owned());
    let digits_only = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    if let Some(exponent) = text.strip_prefix("2^") {
        if !digits_only(exponent) {
            return Err(bad());
        }
        // RFC 3711 §9.2: at most 2^48 SRTP packets under one master key.
        return match exponent.parse::<u8>() {
            Ok(n) if n <= 48 => Ok(Lifetime::PowerOfTwo(n)),
            _ => Err(bad()),
        };
    }
    if !digits_only(text) {
        return Err(bad());
    }
    text.parse::<u64>()
        .ok()
        .filter(|&n| n > 0 && n <= 1 << 48)
        .map(Lifetime::Packets)
        .ok_or_else(bad)
}

impl fmt::Display for KeyParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "inline:{}", self.key.to_base64())?;
        match self.lifetime {
            Some(Lifetime::PowerOfTwo(n)) => write!(f, "|2^{n}"),
            Some(Lifetime::Packets(n)) => write!(f, "|{n}"),
            None => Ok(()),
        }
    }
}

/// One direction of SRTP for one call: a master key under one suite, deriving the
/// session keys of RTP and RTCP (RFC 3711 §4.3, key derivation rate 0) and keeping the
/// rollover counter and the SRTCP index of each SSRC (§3.3.1, §3.4).
///
/// A context for sending protects; one for receiving unprotects, refusing replays within
/// a window of [`REPLAY_WINDOW`] packets per SSRC (§3.3.2). Use one context per direction:
/// RFC 4568 §6.1 gives each side its own key.
pub struct SrtpContext {
    suite: CryptoSuite,
    key: MasterKey,
    inner: Context,
    /// The SSRCs `inner` holds state for: authenticated (receiving) or protected (sending).
    rtp_ssrcs: SsrcSet,
    rtcp_ssrcs: SsrcSet,
    /// Checks the first packet of an unknown SSRC; made again after [`PROBE_TRIES`].
    probe: Option<(Context, u32)>,
    rtp_replay: ReplayWindow,
    rtcp_replay: ReplayWindow,
}

impl fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SrtpContext")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// The SSRCs a context holds state for: few, so a small vector.
#[derive(Debug, Default)]
struct SsrcSet(Vec<u32>);

impl SsrcSet {
    fn contains(&self, ssrc: u32) -> bool {
        self.0.contains(&ssrc)
    }

    fn full(&self) -> bool {
        self.0.len() >= MAX_SSRCS
    }
}

/// Whether an SRTP packet is RTP or RTCP (which state map of the context it touches).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rtp,
    Rtcp,
}

impl SrtpContext {
    /// A context for `suite` under `key`.
    pub fn new(suite: CryptoSuite, key: &MasterKey) -> Result<Self, SrtpError> {
        Ok(SrtpContext {
            suite,
            key: key.clone(),
            inner: make_context(suite, key)?,
            rtp_ssrcs: SsrcSet::default(),
            rtcp_ssrcs: SsrcSet::default(),
            probe: None,
            rtp_replay: ReplayWindow::new(1 << 16),
            rtcp_replay: ReplayWindow::new(1 << 31),
        })
    }

    /// The SSRCs of RTP and of RTCP the context holds state for now (at most
    /// [`MAX_SSRCS`] each).
    pub fn ssrc_count(&self) -> (usize, usize) {
        (self.rtp_ssrcs.0.len(), self.rtcp_ssrcs.0.len())
    }

    /// Before protecting a packet of `ssrc`: refuses a new SSRC past [`MAX_SSRCS`].
    fn admit_outbound(&mut self, kind: Kind, ssrc: u32) -> Result<(), SrtpError> {
        let set = match kind {
            Kind::Rtp => &mut self.rtp_ssrcs,
            Kind::Rtcp => &mut self.rtcp_ssrcs,
        };
        if set.contains(ssrc) {
            return Ok(());
        }
        if set.full() {
            return Err(SrtpError::TooManySsrcs { ssrc });
        }
        set.0.push(ssrc);
        Ok(())
    }

    /// Before unprotecting a packet of `ssrc` in the main context: an unknown SSRC must
    /// authenticate in the probe context first (see the module docs).
    fn admit_inbound(&mut self, kind: Kind, ssrc: u32, packet: &[u8]) -> Result<(), SrtpError> {
        let known = match kind {
            Kind::Rtp => self.rtp_ssrcs.contains(ssrc),
            Kind::Rtcp => self.rtcp_ssrcs.contains(ssrc),
        };
        if known {
            return Ok(());
        }
        let probe = match &mut self.probe {
            Some((probe, tries)) if *tries < PROBE_TRIES => {
                *tries += 1;
                probe
            }
            slot => &mut slot.insert((make_context(self.suite, &self.key)?, 1)).0,
        };
        match kind {
            Kind::Rtp => probe.decrypt_rtp(packet).map_err(classify)?,
            Kind::Rtcp => probe.decrypt_rtcp(packet).map_err(classify)?,
        };
        let set = match kind {
            Kind::Rtp => &mut self.rtp_ssrcs,
            Kind::Rtcp => &mut self.rtcp_ssrcs,
        };
        if set.full() {
            // Only authenticated SSRCs got here: the party changed its SSRC that often.
            // A receiving context may start afresh; the replay windows stay.
            self.inner = make_context(self.suite, &self.key)?;
            self.rtp_ssrcs.0.clear();
            self.rtcp_ssrcs.0.clear();
        }
        let set = match kind {
            Kind::Rtp => &mut self.rtp_ssrcs,
            Kind::Rtcp => &mut self.rtcp_ssrcs,
        };
        set.0.push(ssrc);
        Ok(())
    }

    /// The context's suite.
    pub fn suite(&self) -> CryptoSuite {
        self.suite
    }

    /// An SRTP packet from an RTP packet (RFC 3711 §3.1): the payload encrypted, the
    /// authentication tag appended.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < 12 {
            return Err(SrtpError::TooShort { len: packet.len() });
        }
        check_rtp_header(packet)?;
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        self.admit_outbound(Kind::Rtp, ssrc)?;
        self.inner
            .encrypt_rtp(packet)
            .map(|b| b.to_vec())
            .map_err(classify)
    }

    /// The RTP packet inside an SRTP packet (RFC 3711 §3.3): the tag checked first, then
    /// the replay window, then the payload decrypted.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < 12 + self.suite.rtp_tag_len() {
            return Err(SrtpError::TooShort { len: packet.len() });
        }
        check_rtp_header(packet)?;
        let seq = u64::from(u16::from_be_bytes([packet[2], packet[3]]));
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        if !self.rtp_replay.check(ssrc, seq) {
            return Err(SrtpError::Replay { ssrc, index: seq });
        }
        self.admit_inbound(Kind::Rtp, ssrc, packet)?;
        let plain = self.inner.decrypt_rtp(packet).map_err(classify)?;
        self.rtp_replay.accept(ssrc, seq);
        Ok(plain.to_vec())
    }

    /// An SRTCP packet from an RTCP packet (RFC 3711 §3.4): encrypted after the first 8
    /// octets, the E flag and SRTCP index appended, then the 80-bit tag.
    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        if packet.len() < 8 {
            return Err(SrtpError::TooShort { len: packet.len() });
        }
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        self.admit_outbound(Kind::Rtcp, ssrc)?;
        self.inner
            .encrypt_rtcp(packet)
            .map(|b| b.to_vec())
            .map_err(classify)
    }

    /// The RTCP packet inside an SRTCP packet (RFC 3711 §3.4). Unencrypted SRTCP (E flag
    /// clear, RFC 4568 §6.3.2 `UNENCRYPTED_SRTCP`) is never negotiated here and is refused as
    /// an authentication failure, whatever its tag.
    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Result<Vec<u8>, SrtpError> {
        let trailer = SRTCP_INDEX_LEN + RTCP_TAG_LEN;
        if packet.len() < 8 + trailer {
            return Err(SrtpError::TooShort { len: packet.len() });
        }
        let at = packet.len() - trailer;
        let word = u32::from_be_bytes([packet[at], packet[at + 1], packet[at + 2], packet[at + 3]]);
        if word & 0x8000_0000 == 0 {
            return Err(SrtpError::Authentication);
        }
        let index = u64::from(word & 0x7fff_ffff);
        let ssrc = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        if !self.rtcp_replay.check(ssrc, index) {
            return Err(SrtpError::Replay { ssrc, index });
        }
        self.admit_inbound(Kind::Rtcp, ssrc, packet)?;
        let plain = self.inner.decrypt_rtcp(packet).map_err(classify)?;
        self.rtcp_replay.accept(ssrc, index);
        Ok(plain.to_vec())
    }
}

/// Refuses an RTP header (RFC 3550 §5.1) whose CSRC list or header extension does not fit
/// the packet, before webrtc-srtp's header parser reads it: that parser panics when an RFC
/// 8285 extension element runs past the end of the packet, and it computes the header's
/// length from the elements it read, so an element overrunning its block, or the one-byte
/// form's reserved ID 15 (where it stops reading), would make it encrypt or decrypt from
/// the wrong octet (both found by fuzzing). Such headers are refused.
fn check_rtp_header(packet: &[u8]) -> Result<(), SrtpError> {
    let bad = |why: &str| Err(SrtpError::Packet(why.to_owned()));
    let Some(&first) = packet.first() else {
        return bad("empty");
    };
    if first >> 6 != 2 {
        return bad("RTP version is not 2");
    }
    let mut at = 12 + 4 * usize::from(first & 0x0f);
    if packet.len() < at {
        return bad("CSRC list truncated");
    }
    if first & 0x10 == 0 {
        return Ok(());
    }
    let (Some(profile), Some(words)) = (packet.get(at..at + 2), packet.get(at + 2..at + 4)) else {
        return bad("header extension truncated");
    };
    let profile = u16::from_be_bytes([profile[0], profile[1]]);
    let end = at + 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    at += 4;
    if packet.len() < end {
        return bad("header extension truncated");
    }
    let two_byte = match profile {
        0xBEDE => false,
        0x1000 => true,
        _ => return Ok(()),
    };
    while at < end {
        let id = packet[at];
        at += 1;
        if id == 0 {
            continue;
        }
        let len = if two_byte {
            let Some(&len) = packet.get(at).filter(|_| at < end) else {
                return bad("header extension element truncated");
            };
            at += 1;
            usize::from(len)
        } else if id >> 4 == 15 {
            return bad("reserved one-byte header extension ID 15");
        } else {
            usize::from(id & 0x0f) + 1
        };
        at += len;
        if at > end {
            return bad("header extension element runs past its block");
        }
    }
    Ok(())
}

/// webrtc-srtp's context for `suite` under `key` (its own replay detection off: ours is
/// [`ReplayWindow`]).
fn make_context(suite: CryptoSuite, key: &MasterKey) -> Result<Context, SrtpError> {
    Context::new(key.key(), key.salt(), suite.profile(), None, None)
        .map_err(|e| SrtpError::Key(e.to_string()))
}

fn classify(error: webrtc_srtp::Error) -> SrtpError {
    use webrtc_srtp::Error as E;
    match error {
        E::RtpFailedToVerifyAuthTag
        | E::RtcpFailedToVerifyAuthTag
        | E::ErrFailedToVerifyAuthTag => SrtpError::Authentication,
        E::SrtpSsrcDuplicated(ssrc, index) => SrtpError::Replay {
            ssrc,
            index: u64::from(index),
        },
        E::SrtcpSsrcDuplicated(ssrc, index) => SrtpError::Replay {
            ssrc,
            index: index as u64,
        },
        E::ErrExceededMaxPackets => SrtpError::KeyExhausted,
        other => SrtpError::Packet(other.to_string()),
    }
}

/// Both directions of SRTP for one call: our key protects what we send, the peer's key
/// (from its `a=crypto`) unprotects what we receive (RFC 4568 §6.1).
#[derive(Debug)]
pub struct SrtpSession {
    /// What we send.
    pub outbound: SrtpContext,
    /// What we receive.
    pub inbound: SrtpContext,
}

impl SrtpSession {
    /// Contexts for `suite`, our `local` key outbound and the peer's `remote` key inbound.
    pub fn new(
        suite: CryptoSuite,
        local: &MasterKey,
        remote: &MasterKey,
    ) -> Result<Self, SrtpError> {
        Ok(SrtpSession {
            outbound: SrtpContext::new(suite, local)?,
            inbound: SrtpContext::new(suite, remote)?,
        })
    }

    /// The suite of both directions.
    pub fn suite(&self) -> CryptoSuite {
        self.outbound.suite()
    }
}

/// What is wrong with a suite, a key or a protected packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// A crypto suite this implementation does not support (RFC 4568 §6.2).
    #[error(
        "unknown SRTP crypto suite {0:?} (supported: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32)"
    )]
    UnknownSuite(String),
    /// A key method other than `inline` (RFC 4568 §6.1).
    #[error("SRTP key method {0:?} is not \"inline:\" (RFC 4568 §6.1)")]
    KeyMethod(String),
    /// The inline key is not base64.
    #[error("SRTP inline key is not valid base64: {0}")]
    Base64(String),
    /// The inline key decodes to the wrong number of octets.
    #[error("SRTP inline key has {0} octets, expected 30 (16 of key and 14 of salt)")]
    KeyLength(usize),
    /// A lifetime that is not `2^N` or a decimal number of packets up to 2^48.
    #[error("SRTP key lifetime {0:?} is not 2^N or a number of packets up to 2^48")]
    Lifetime(String),
    /// The key carries a master key identifier, which is not supported.
    #[error("SRTP master key identifier (MKI) {0:?} is not supported")]
    MkiUnsupported(String),
    /// A session parameter (RFC 4568 §6.3) this implementation does not apply.
    #[error("SRTP session parameter {0:?} is not supported")]
    SessionParam(String),
    /// Parts after the key that are not `|lifetime|MKI:length`.
    #[error("SRTP key parameters {0:?} are not inline:KEY[|LIFETIME][|MKI:LENGTH]")]
    KeyParamsSyntax(String),
    /// The random source failed.
    #[error("no random SRTP key: {0}")]
    Random(String),
    /// The SRTP implementation refused the key.
    #[error("SRTP key refused: {0}")]
    Key(String),
    /// A packet too short to be protected or to carry a tag.
    #[error("SRTP/SRTCP packet too short: {len} octets")]
    TooShort {
        /// Octets received.
        len: usize,
    },
    /// The authentication tag does not match: a wrong key or a tampered packet.
    #[error("SRTP/SRTCP authentication failed")]
    Authentication,
    /// A packet received before (RFC 3711 §3.3.2).
    #[error("SRTP/SRTCP replay: SSRC {ssrc:#010x} index {index}")]
    Replay {
        /// The packet's SSRC.
        ssrc: u32,
        /// Its sequence number (SRTP) or SRTCP index.
        index: u64,
    },
    /// A sending context already protects [`MAX_SSRCS`] other SSRCs.
    #[error(
        "SRTP context already keeps {} SSRCs; SSRC {ssrc:#010x} refused",
        MAX_SSRCS
    )]
    TooManySsrcs {
        /// The SSRC refused.
        ssrc: u32,
    },
    /// The key has protected all the packets it may (RFC 3711 §9.2).
    #[error("SRTP master key exhausted (RFC 3711 §9.2)")]
    KeyExhausted,
    /// Another fault of a packet (a malformed header).
    #[error("bad SRTP/SRTCP packet: {0}")]
    Packet(String),
}

pub mod protection;
mod replay;
pub mod sdes;

pub use protection::{Protection, SrtpCounters};
use replay::ReplayWindow;

#[cfg(test)]
mod tests;
