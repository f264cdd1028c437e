//! Batched UDP I/O for the media path: `recvmmsg(2)` fills up to [`BATCH`] datagrams in one
//! system call, `sendmmsg(2)` sends a run of them in one more. Through the `nix` crate's safe
//! wrappers, since the workspace forbids `unsafe`.
//!
//! One [`Batch`] per worker thread (a thread-local): receiving, deciding and sending happen
//! without an `.await` in between, so the buffers are never held across a suspension and a
//! port costs no buffer memory of its own.

use std::cell::RefCell;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

use nix::sys::socket::{
    recvmmsg, sendmmsg, ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage,
};

/// Datagrams per system call.
pub const BATCH: usize = 32;
/// Largest datagram relayed whole (bigger ones are truncated by the kernel and dropped).
pub const MAX_DATAGRAM: usize = 2048;
/// Room after a received datagram for what SRTP adds when the relay protects it (RFC 3711
/// §3.4: SRTCP index and 80-bit tag, 14 octets; RTP at most 10).
pub const HEADROOM: usize = 64;

/// Buffers and headers of one batch.
pub struct Batch {
    buffers: Vec<Vec<u8>>,
    lengths: [usize; BATCH],
    sources: [Option<SocketAddr>; BATCH],
    recv_headers: MultiHeaders<SockaddrStorage>,
    send_headers: MultiHeaders<SockaddrStorage>,
}

thread_local! {
    static BATCH_OF_THREAD: RefCell<Option<Box<Batch>>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's batch (created on first use). `f` must not re-enter.
pub fn with_batch<R>(f: impl FnOnce(&mut Batch) -> R) -> Option<R> {
    BATCH_OF_THREAD.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        let batch = slot.get_or_insert_with(|| Box::new(Batch::new()));
        Some(f(batch))
    })
}

impl Batch {
    fn new() -> Batch {
        Batch {
            buffers: (0..BATCH)
                .map(|_| vec![0; MAX_DATAGRAM + HEADROOM])
                .collect(),
            lengths: [0; BATCH],
            sources: [None; BATCH],
            recv_headers: MultiHeaders::preallocate(BATCH, None),
            send_headers: MultiHeaders::preallocate(BATCH, None),
        }
    }

    /// Receives up to [`BATCH`] datagrams without blocking; answers how many.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        let Batch {
            buffers,
            lengths,
            sources,
            recv_headers,
            ..
        } = self;
        let mut slices: Vec<[IoSliceMut<'_>; 1]> = buffers
            .iter_mut()
            .map(|b| {
                let len = b.len().min(MAX_DATAGRAM);
                [IoSliceMut::new(&mut b[..len])]
            })
            .collect();
        let results = recvmmsg(
            fd,
            recv_headers,
            slices.iter_mut(),
            MsgFlags::MSG_DONTWAIT,
            None,
        )
        .map_err(io::Error::from)?;
        let mut n = 0;
        for (i, msg) in results.enumerate() {
            let (Some(len), Some(source)) = (lengths.get_mut(i), sources.get_mut(i)) else {
                break;
            };
            let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
            *len = if truncated { 0 } else { msg.bytes };
            *source = msg.address.and_then(to_std);
            n = i + 1;
        }
        Ok(n)
    }

    /// The `i`-th datagram received and its source (`None` for a truncated one).
    pub fn datagram(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        let len = *self.lengths.get(i)?;
        let source = (*self.sources.get(i)?)?;
        let data = self.buffers.get(i)?.get(..len)?;
        (len > 0).then_some((data, source))
    }

    /// Puts `bytes` in place of the `i`-th datagram (the relay rewrote it: SRTP ↔ RTP);
    /// `false` when it does not fit.
    pub fn replace(&mut self, i: usize, bytes: &[u8]) -> bool {
        let (Some(buffer), Some(len)) = (self.buffers.get_mut(i), self.lengths.get_mut(i)) else {
            return false;
        };
        let Some(slot) = buffer.get_mut(..bytes.len()) else {
            return false;
        };
        slot.copy_from_slice(bytes);
        *len = bytes.len();
        true
    }

    /// Sends datagrams `items` (index into the received batch, destination) from socket
    /// `fd`, in as few `sendmmsg` calls as the kernel allows; answers how many were sent.
    /// Stops at the first error (a full socket buffer drops the rest, as UDP would).
    pub fn send(&mut self, fd: RawFd, items: &[(usize, SocketAddr)]) -> usize {
        let mut sent = 0;
        while sent < items.len() {
            let rest = items.get(sent..).unwrap_or(&[]);
            let addresses: Vec<Option<SockaddrStorage>> = rest
                .iter()
                .map(|(_, to)| Some(SockaddrStorage::from(*to)))
                .collect();
            let slices: Vec<[IoSlice<'_>; 1]> = rest
                .iter()
                .map(|&(i, _)| {
                    let len = self.lengths.get(i).copied().unwrap_or(0);
                    let data = self
                        .buffers
                        .get(i)
                        .and_then(|b| b.get(..len))
                        .unwrap_or(&[]);
                    [IoSlice::new(data)]
                })
                .collect();
            let no_cmsgs: [ControlMessage<'_>; 0] = [];
            match sendmmsg(
                fd,
                &mut self.send_headers,
                &slices,
                &addresses,
                no_cmsgs,
                MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(results) => {
                    let n = results.count();
                    if n == 0 {
                        break;
                    }
                    sent += n;
                }
                Err(_) => break,
            }
        }
        sent
    }
}

fn to_std(storage: SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = storage.as_sockaddr_in() {
        return Some(SocketAddr::V4(SocketAddrV4::from(*v4)));
    }
    storage
        .as_sockaddr_in6()
        .map(|v6| SocketAddr::V6(SocketAddrV6::from(*v6)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_batch_goes_through_in_two_calls() {
        let relay = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        for i in 0..5u8 {
            peer.send_to(&[i; 10], relay.local_addr().unwrap()).unwrap();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let got = with_batch(|b| {
            let n = b.recv(relay.as_raw_fd()).unwrap();
            assert_eq!(n, 5);
            for i in 0..n {
                let (data, from) = b.datagram(i).unwrap();
                assert_eq!(data, [i as u8; 10]);
                assert_eq!(from, peer.local_addr().unwrap());
            }
            let to = sink.local_addr().unwrap();
            let items: Vec<_> = (0..n).map(|i| (i, to)).collect();
            b.send(relay.as_raw_fd(), &items)
        })
        .unwrap();
        assert_eq!(got, 5);
        let mut buf = [0; 64];
        for i in 0..5u8 {
            let (n, from) = sink.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], [i; 10]);
            assert_eq!(from, relay.local_addr().unwrap());
        }
    }
}
