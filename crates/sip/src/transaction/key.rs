//! Transaction identifiers and matching: RFC 3261 §17.1.3 (client), §17.2.3 (server, with the
//! RFC 2543 fallback for branches without the magic cookie) and §9.2 (CANCEL).

use std::fmt;
use std::sync::Arc;

use crate::error::ParseError;
use crate::headers::Via;
use crate::message::Message;
use crate::method::Method;

/// Which side of a transaction this element plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// A client transaction: this element sent the request (RFC 3261 §17.1).
    Client,
    /// A server transaction: this element received the request (RFC 3261 §17.2).
    Server,
}

/// Identifies one transaction of a [`super::TransactionLayer`].
///
/// - Client transactions (§17.1.3): the top Via `branch` and the CSeq method. The method
///   tells an INVITE from the CANCEL that shares its branch.
/// - Server transactions with an RFC 3261 branch (§17.2.3): `branch`, the top Via sent-by
///   and the method, where an ACK is looked up under INVITE.
/// - Server transactions whose branch lacks `z9hG4bK` (RFC 2543 peers, §17.2.3): the
///   Request-URI, To tag, From tag, Call-ID, CSeq number and method, and the top Via.
///
/// Branch and sent-by compare case-insensitively (§7.3.1: parameter values and host names
/// are case-insensitive unless stated otherwise); the key keeps them in lower case.
/// Sent-by compares as text, so `host` and `host:5060` differ. In the RFC 2543 key the
/// Request-URI and tags compare as written, not with the §19.1.4 URI rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TransactionKey {
    side: Side,
    method: Method,
    id: KeyId,
}

/// Shared behind an `Arc`: the layer and the proxy file a key under several maps and
/// clone it for each, which is a reference count rather than an allocation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum KeyId {
    /// `branch` and, for server transactions, `sent-by` (empty for client transactions).
    Branch(Arc<BranchId>),
    /// The RFC 2543 fields.
    Rfc2543(Arc<Rfc2543Id>),
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct BranchId {
    branch: Box<str>,
    sent_by: Box<str>,
}

impl KeyId {
    fn branch(branch: &str, sent_by: &str) -> KeyId {
        KeyId::Branch(Arc::new(BranchId {
            branch: branch.to_ascii_lowercase().into(),
            sent_by: sent_by.to_ascii_lowercase().into(),
        }))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Rfc2543Id {
    request_uri: Box<str>,
    to_tag: Option<Box<str>>,
    from_tag: Option<Box<str>>,
    call_id: Box<str>,
    cseq: u32,
    top_via: Box<str>,
}

impl TransactionKey {
    /// Client or server.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Whether this is a client transaction.
    pub fn is_client(&self) -> bool {
        self.side == Side::Client
    }

    /// Whether this is a server transaction.
    pub fn is_server(&self) -> bool {
        self.side == Side::Server
    }

    /// The method of the request that created the transaction.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// Whether this is an INVITE transaction (§17.1.1, §17.2.1).
    pub fn is_invite(&self) -> bool {
        self.method == Method::Invite
    }

    /// The branch (lower case), or `None` for an RFC 2543 server transaction.
    pub fn branch(&self) -> Option<&str> {
        match &self.id {
            KeyId::Branch(id) => Some(&id.branch),
            KeyId::Rfc2543(_) => None,
        }
    }

    /// Whether the transaction is matched by the RFC 2543 rules (§17.2.3).
    pub fn is_rfc2543(&self) -> bool {
        matches!(self.id, KeyId::Rfc2543(_))
    }

    /// The key of the client transaction for a request this element sends (§17.1.3). The
    /// top Via must carry an RFC 3261 branch.
    pub(super) fn for_client_request(request: &Message) -> Result<TransactionKey, KeyError> {
        let method = request.method().ok_or(KeyError::NotARequest)?;
        let via = request.top_via().map_err(KeyError::Malformed)?;
        // Responses are matched by CSeq method (§17.1.3): it must be the request's.
        let cseq = request.cseq().map_err(KeyError::Malformed)?;
        if cseq.method != method.as_str() {
            return Err(KeyError::Malformed(ParseError::header(
                crate::header_name::HeaderName::CSeq,
                "method differs from the request line",
            )));
        }
        if !via.has_rfc3261_branch() {
            return Err(KeyError::NoRfc3261Branch);
        }
        let branch = via.branch().unwrap_or_default();
        Ok(TransactionKey {
            side: Side::Client,
            method: method.clone(),
            id: KeyId::branch(branch, ""),
        })
    }

    /// The key of the client transaction a response belongs to (§17.1.3): top Via branch and
    /// CSeq method. `Ok(None)` when the top Via has no RFC 3261 branch, which no client
    /// transaction of this layer can have.
    pub(super) fn for_response(response: &Message) -> Result<Option<TransactionKey>, ParseError> {
        let via = response.top_via()?;
        let cseq = response.cseq()?;
        if !via.has_rfc3261_branch() {
            return Ok(None);
        }
        Ok(Some(TransactionKey {
            side: Side::Client,
            method: cseq.method(),
            id: KeyId::branch(via.branch().unwrap_or_default(), ""),
        }))
    }

    /// The key a received request is matched under (§17.2.3), taking `method` as the method
    /// (INVITE for an ACK, INVITE for the transaction a CANCEL cancels, §9.2).
    pub(super) fn for_server_request(
        request: &Message,
        method: Method,
    ) -> Result<TransactionKey, ParseError> {
        let via = request.top_via()?;
        let id = if via.has_rfc3261_branch() {
            KeyId::branch(via.branch().unwrap_or_default(), via.sent_by)
        } else {
            let from = request.from()?;
            let to = request.to()?;
            KeyId::Rfc2543(Arc::new(Rfc2543Id {
                request_uri: request.request_uri_str().unwrap_or_default().into(),
                to_tag: to.tag().map(Into::into),
                from_tag: from.tag().map(Into::into),
                call_id: request.call_id()?.into(),
                cseq: request.cseq()?.seq,
                top_via: via_text(&via).to_ascii_lowercase().into(),
            }))
        };
        Ok(TransactionKey {
            side: Side::Server,
            method,
            id,
        })
    }

    /// For an RFC 2543 key, the same key without the To tag: the index under which an ACK,
    /// whose To tag is the response's rather than the INVITE's, finds its INVITE server
    /// transaction. `None` for branch keys.
    pub(super) fn without_to_tag(&self) -> Option<TransactionKey> {
        match &self.id {
            KeyId::Rfc2543(id) => Some(TransactionKey {
                side: self.side,
                method: self.method.clone(),
                id: KeyId::Rfc2543(Arc::new(Rfc2543Id {
                    to_tag: None,
                    ..(**id).clone()
                })),
            }),
            KeyId::Branch(_) => None,
        }
    }

    /// RFC 2543 ACK matching (§17.2.3): `self` is the key an ACK computed under method INVITE;
    /// `invite` is an INVITE server transaction's key whose final response carried
    /// `response_to_tag`. Everything but the To tag must be equal, and the ACK's To tag must
    /// be the response's.
    pub(super) fn rfc2543_ack_matches(
        &self,
        invite: &TransactionKey,
        response_to_tag: Option<&str>,
    ) -> bool {
        let (KeyId::Rfc2543(ack), KeyId::Rfc2543(inv)) = (&self.id, &invite.id) else {
            return false;
        };
        invite.side == Side::Server
            && invite.method == Method::Invite
            && ack.request_uri == inv.request_uri
            && ack.from_tag == inv.from_tag
            && ack.call_id == inv.call_id
            && ack.cseq == inv.cseq
            && ack.top_via == inv.top_via
            && ack.to_tag.as_deref() == response_to_tag
    }
}

/// The top Via rebuilt from its parts, as used in RFC 2543 keys and in ACKs.
pub(super) fn via_text(via: &Via<'_>) -> String {
    let params = via.params.as_str();
    if params.is_empty() {
        format!("SIP/2.0/{} {}", via.transport, via.sent_by)
    } else {
        format!("SIP/2.0/{} {};{}", via.transport, via.sent_by, params)
    }
}

/// Identifies an ACK for a 2xx answered by an INVITE server transaction in the Accepted
/// state: the dialog and CSeq number (§13.2.2.4: the ACK has the INVITE's CSeq number, the
/// Call-ID, and the From and To tags of the 2xx).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct AckId {
    call_id: Box<str>,
    from_tag: Box<str>,
    to_tag: Box<str>,
    cseq: u32,
}

impl AckId {
    /// The id from a message carrying the dialog's Call-ID, tags and CSeq (the 2xx sent or
    /// the ACK received). `None` when a tag is missing or a header is malformed.
    pub(super) fn of(msg: &Message) -> Option<AckId> {
        let from = msg.from().ok()?;
        let to = msg.to().ok()?;
        Some(AckId {
            call_id: msg.call_id().ok()?.into(),
            from_tag: from.tag()?.into(),
            to_tag: to.tag()?.into(),
            cseq: msg.cseq().ok()?.seq,
        })
    }
}

/// Why a request cannot start a client transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum KeyError {
    NotARequest,
    NoRfc3261Branch,
    Malformed(ParseError),
}

impl fmt::Display for TransactionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.side {
            Side::Client => "client",
            Side::Server => "server",
        };
        match &self.id {
            KeyId::Branch(id) if id.sent_by.is_empty() => {
                write!(f, "{side} {} {}", self.method, id.branch)
            }
            KeyId::Branch(id) => {
                write!(f, "{side} {} {} {}", self.method, id.branch, id.sent_by)
            }
            KeyId::Rfc2543(id) => write!(
                f,
                "{side} {} rfc2543 {} {} {}",
                self.method, id.call_id, id.cseq, id.top_via
            ),
        }
    }
}
