//! rtpengine's NG control protocol: each UDP datagram is `COOKIE SP bencode-dictionary`; the
//! answer repeats the cookie, so a client can match answers and a server can answer a
//! retransmitted command with the answer it already gave.
//!
//! | module | concept |
//! |---|---|
//! | [`command`] | the command dictionary ↔ [`MediaRequest`](crate::MediaRequest): keys, flags |
//! | [`server`] | [`server::handle`]: a datagram in, the answer out, on an [`Engine`](crate::Engine) |
//! | [`client`] | messages to a remote node and the reading of its answers |

pub mod client;
pub mod command;
pub mod server;

use crate::bencode::Bencode;
use crate::error::RelayError;

/// Longest cookie accepted (rtpengine's and Kamailio's are short tokens).
pub const MAX_COOKIE: usize = 64;

/// Splits a datagram into its cookie and its bencode dictionary.
pub fn split(datagram: &[u8]) -> Result<(&[u8], Bencode), RelayError> {
    let space = datagram
        .iter()
        .position(|&b| b == b' ')
        .ok_or(RelayError::MalformedMessage("no space after the cookie"))?;
    let (cookie, rest) = datagram.split_at(space);
    if cookie.is_empty() || cookie.len() > MAX_COOKIE {
        return Err(RelayError::MalformedMessage("cookie empty or too long"));
    }
    let body = Bencode::decode(&rest[1..])?;
    if body.as_dict().is_none() {
        return Err(RelayError::MalformedMessage("the body is not a dictionary"));
    }
    Ok((cookie, body))
}

/// `cookie SP bencode(body)`.
pub fn frame(cookie: &[u8], body: &Bencode) -> Vec<u8> {
    let mut out = Vec::with_capacity(cookie.len() + 64);
    out.extend_from_slice(cookie);
    out.push(b' ');
    body.encode_into(&mut out);
    out
}
