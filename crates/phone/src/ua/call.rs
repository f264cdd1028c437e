//! The state of one call, as the user agent core keeps it.

use bytes::Bytes;
use sip::dialog::Dialog;
use sip::transaction::TransactionKey;
use sip::Message;

/// Who placed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// We sent the INVITE (UAC).
    Outgoing,
    /// We received the INVITE (UAS).
    Incoming,
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Outgoing: INVITE sent, no final answer yet.
    Calling,
    /// Incoming: not answered yet.
    Offered,
    /// Incoming: 2xx sent, waiting for the ACK.
    Answered,
    /// Both sides agreed; media flows.
    Established,
    /// Over; kept only until the last transactions end.
    Ended,
}

/// One call.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) direction: Direction,
    pub(crate) phase: Phase,
    /// Our tag (From of an outgoing call, To of an incoming one).
    pub(crate) local_tag: String,
    /// The INVITE: ours as last sent (for CANCEL), or the received one (for responses).
    pub(crate) invite: Option<Message>,
    /// The INVITE transaction: client (outgoing) or server (incoming).
    pub(crate) invite_key: Option<TransactionKey>,
    /// The dialog, once a tagged response (outgoing) or our answer (incoming) made it.
    pub(crate) dialog: Option<Dialog>,
    /// Outgoing: a provisional response arrived, so a CANCEL may be sent (§9.1).
    pub(crate) provisional_seen: bool,
    /// Outgoing: hang-up asked before any provisional; CANCEL when one arrives.
    pub(crate) cancel_pending: bool,
    /// Outgoing: CANCEL sent.
    pub(crate) cancelled: bool,
    /// The ACK we sent for the 2xx (sent again for each 2xx retransmission, §13.2.2.4).
    pub(crate) ack: Option<Bytes>,
    /// The CSeq number of the INVITE the ACK belongs to.
    pub(crate) ack_seq: u32,
    /// Incoming: our 2xx, retransmitted until the ACK (§13.3.1.4), and its CSeq number.
    pub(crate) unacked_answer: Option<(Bytes, u32)>,
    /// A received re-INVITE waiting for [`super::UserAgent::accept_offer`].
    pub(crate) pending_offer: Option<TransactionKey>,
}

impl Call {
    pub(crate) fn new(direction: Direction, local_tag: String) -> Call {
        Call {
            direction,
            phase: match direction {
                Direction::Outgoing => Phase::Calling,
                Direction::Incoming => Phase::Offered,
            },
            local_tag,
            invite: None,
            invite_key: None,
            dialog: None,
            provisional_seen: false,
            cancel_pending: false,
            cancelled: false,
            ack: None,
            ack_seq: 0,
            unacked_answer: None,
            pending_offer: None,
        }
    }
}
