//! One task per relay port: wait until the socket is readable, take a batch of datagrams,
//! ask the engine where each goes (one lock per batch), send each run with the same
//! outgoing socket in one `sendmmsg`.
//!
//! Readiness: the batch is handled inside tokio's `try_io`, which answers `WouldBlock` when
//! the batch was not full (the kernel queue was empty when it looked). That clears the
//! socket's readiness without a second, empty `recvmmsg`; a datagram arriving meanwhile
//! raises a new edge, so nothing is missed.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::{Mutex, Weak};
use std::time::Instant;

use tokio::io::Interest;

use crate::engine::Forward;
use crate::node::batch::{with_batch, Batch, BATCH};
use crate::node::{lock, MediaSocket, Shared};

/// Relays what arrives on `port` until the port is closed (the task is aborted) or the
/// relay is gone.
pub(super) async fn run_port(shared: Weak<Mutex<Shared>>, port: u16, socket: MediaSocket) {
    loop {
        if socket.readable().await.is_err() {
            return;
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let fd = socket.as_raw_fd();
        let result = socket.try_io(Interest::READABLE, || {
            let n = with_batch(|batch| relay_batch(batch, fd, &shared, port))
                .unwrap_or(Err(io::ErrorKind::WouldBlock.into()))?;
            if n < BATCH {
                Err(io::ErrorKind::WouldBlock.into())
            } else {
                Ok(())
            }
        });
        if let Err(e) = result {
            if e.kind() != io::ErrorKind::WouldBlock {
                tracing::debug!(port, error = %e, "media socket error");
            }
        }
    }
}

/// Receives one batch on `fd` and relays it; answers how many datagrams came.
fn relay_batch(
    batch: &mut Batch,
    fd: std::os::fd::RawFd,
    shared: &Mutex<Shared>,
    port: u16,
) -> io::Result<usize> {
    let n = batch.recv(fd)?;
    let now = Instant::now();
    let mut sends: Vec<(usize, SocketAddr)> = Vec::with_capacity(n);
    let mut out: Option<(u16, MediaSocket)> = None;
    let mut failed = 0usize;
    {
        let mut s = lock(shared);
        for i in 0..n {
            let Some((data, source)) = batch.datagram(i) else {
                continue;
            };
            let Forward::Send { from_port, to } = s.engine.forward(now, port, source, data) else {
                continue;
            };
            if out.as_ref().is_none_or(|(p, _)| *p != from_port) {
                // A batch from one port almost always leaves by one port; a change
                // flushes the run so far.
                if let Some((_, sock)) = out.take() {
                    let sent = batch.send(sock.as_raw_fd(), &sends);
                    failed += sends.len() - sent;
                    sends.clear();
                }
                out = s.socket(from_port).cloned().map(|sock| (from_port, sock));
            }
            if out.is_some() {
                sends.push((i, to));
            } else {
                failed += 1;
            }
        }
    }
    if let Some((_, sock)) = out {
        let sent = batch.send(sock.as_raw_fd(), &sends);
        failed += sends.len() - sent;
    }
    if failed > 0 {
        let mut s = lock(shared);
        for _ in 0..failed {
            s.engine.count_send_error(port);
        }
    }
    Ok(n)
}
