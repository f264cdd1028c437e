//! What the user agent core tells its owner: [`Event`]s, and why a call ended ([`EndCause`]).

use std::fmt;

use bytes::Bytes;

/// A call of this user agent, incoming or outgoing. Numbers are never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call {}", self.0)
    }
}

/// Something that happened, drained with [`super::UserAgent::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A REGISTER went out (the first one, a refresh or a retry).
    Registering,
    /// The registrar accepted the binding for `expires` seconds (RFC 3261 §10.2.4).
    Registered {
        /// Seconds granted.
        expires: u32,
    },
    /// The registrar refused, or did not answer; the core retries later.
    RegistrationFailed {
        /// Status code (408 for no answer).
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// The binding was removed (`Expires: 0` answered).
    Unregistered,
    /// An outgoing call is ringing (180) or has early media (183).
    Ringing {
        /// The call.
        call: CallId,
        /// 180, 183, ...
        code: u16,
        /// SDP answer in the provisional response, if any.
        sdp: Option<Bytes>,
    },
    /// The remote party answered our call (2xx); the ACK has been sent.
    Answered {
        /// The call.
        call: CallId,
        /// The SDP answer.
        sdp: Option<Bytes>,
    },
    /// A new incoming call. Answer with [`super::UserAgent::answer`], ring with
    /// [`super::UserAgent::ringing`] or refuse with [`super::UserAgent::reject`].
    Incoming {
        /// The call.
        call: CallId,
        /// The caller's From value.
        from: String,
        /// The To value.
        to: String,
        /// The SDP offer (none for a late-offer INVITE).
        sdp: Option<Bytes>,
    },
    /// The caller's ACK arrived: the incoming call is established.
    Confirmed {
        /// The call.
        call: CallId,
        /// The ACK's SDP: the answer to the offer of our 200 when the INVITE had none
        /// (RFC 3261 §13.2.1, RFC 3264 §5: a late offer).
        sdp: Option<Bytes>,
    },
    /// The peer sent a new offer in a re-INVITE (e.g. hold); answer it with
    /// [`super::UserAgent::accept_offer`].
    RemoteOffer {
        /// The call.
        call: CallId,
        /// The new offer (none: the peer asks us for an offer).
        sdp: Option<Bytes>,
    },
    /// Our re-INVITE was answered with 2xx.
    OfferAnswered {
        /// The call.
        call: CallId,
        /// The answer.
        sdp: Option<Bytes>,
    },
    /// Our re-INVITE failed; the previous session stays (RFC 3261 §14.1).
    OfferFailed {
        /// The call.
        call: CallId,
        /// Status code.
        code: u16,
    },
    /// An INFO request within a call (e.g. DTMF as `application/dtmf-relay`).
    Info {
        /// The call.
        call: CallId,
        /// Its Content-Type.
        content_type: String,
        /// Its body.
        body: Bytes,
    },
    /// The peer asks us to call `target` (REFER, RFC 3515). Report progress with
    /// [`super::UserAgent::notify_transfer`].
    TransferRequested {
        /// The call the REFER came in.
        call: CallId,
        /// The Refer-To URI.
        target: String,
    },
    /// News on a transfer we asked for: the REFER's answer (202, or a failure) and then
    /// each NOTIFY's status line (RFC 3515 §2.4.5).
    TransferProgress {
        /// The call the REFER went out in.
        call: CallId,
        /// Status code of the REFER answer or of the NOTIFY sipfrag.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// A DTMF digit sent as SIP INFO was answered (or failed).
    InfoAnswered {
        /// The call.
        call: CallId,
        /// Status code.
        code: u16,
    },
    /// A call ended.
    CallEnded {
        /// The call.
        call: CallId,
        /// Why.
        cause: EndCause,
    },
    /// The voicemail's message-waiting indication arrived: a `message-summary` NOTIFY
    /// (RFC 3842), sent without a subscription.
    MessageWaiting {
        /// The body as read.
        summary: sip::message_summary::MessageSummary,
    },
    /// A SIP MESSAGE arrived (RFC 3428).
    Message {
        /// The sender's From value.
        from: String,
        /// Its Content-Type.
        content_type: String,
        /// The text.
        body: Bytes,
    },
    /// Our MESSAGE was answered.
    MessageAnswered {
        /// Which MESSAGE ([`super::UserAgent::message`]'s return value).
        id: u64,
        /// Status code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndCause {
    /// We hung up (BYE sent).
    LocalHangup,
    /// The peer hung up (BYE received).
    RemoteHangup,
    /// We cancelled our call before it was answered.
    Cancelled,
    /// The caller cancelled an incoming call before we answered.
    CallerCancelled,
    /// We refused an incoming call with this status.
    Refused {
        /// The status code we sent.
        code: u16,
    },
    /// Our call failed with this final response (busy 486, declined 603, not found 404...).
    Failed {
        /// Status code.
        code: u16,
        /// Reason phrase.
        reason: String,
    },
    /// Our answer was never acknowledged (RFC 3261 §13.3.1.4: 64*T1 without ACK).
    NoAck,
}

impl fmt::Display for EndCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndCause::LocalHangup => f.write_str("hung up"),
            EndCause::RemoteHangup => f.write_str("hung up by remote"),
            EndCause::Cancelled => f.write_str("cancelled"),
            EndCause::CallerCancelled => f.write_str("cancelled by caller"),
            EndCause::Refused { code } => write!(f, "refused with {code}"),
            EndCause::Failed { code, reason } => write!(f, "{code} {reason}"),
            EndCause::NoAck => f.write_str("no ACK for our answer"),
        }
    }
}
