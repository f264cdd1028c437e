//! [`PortPool`]: the relay's RTP/RTCP port pairs, even RTP port and RTCP = RTP + 1 (RFC 3550
//! §11), allocated from a configured range and freed on delete or timeout.
//!
//! Freed pairs go to the back of the queue, so a port is reused as late as possible: late
//! packets of an ended call do not land in a new one.

use std::collections::VecDeque;

use crate::error::RelayError;

/// The default port range, as rtpengine's and rtpproxy's usual configuration.
pub const DEFAULT_PORTS: (u16, u16) = (30000, 40000);

/// Free even ports of a range; each stands for the pair (port, port + 1).
#[derive(Debug, Clone)]
pub struct PortPool {
    min: u16,
    max: u16,
    free: VecDeque<u16>,
}

impl PortPool {
    /// A pool of the pairs inside `min..=max`. `min` must be even and the range must hold
    /// at least one pair.
    pub fn new(min: u16, max: u16) -> Result<PortPool, RelayError> {
        if min % 2 != 0 {
            return Err(RelayError::Config(format!(
                "the port range must start on an even port (RTP even, RTCP = RTP + 1), not {min}"
            )));
        }
        if max <= min {
            return Err(RelayError::Config(format!(
                "the port range {min}-{max} is empty or inverted"
            )));
        }
        if min == 0 {
            return Err(RelayError::Config("port 0 cannot be relayed".into()));
        }
        let free = (u32::from(min)..u32::from(max))
            .step_by(2)
            .map(|p| p as u16)
            .collect();
        Ok(PortPool { min, max, free })
    }

    /// The first port of the range.
    pub fn min(&self) -> u16 {
        self.min
    }

    /// The last port of the range.
    pub fn max(&self) -> u16 {
        self.max
    }

    /// How many pairs are free.
    pub fn free_pairs(&self) -> usize {
        self.free.len()
    }

    /// Takes the next free pair whose ports `open` accepts (the I/O shell binds the two
    /// sockets there; a test accepts everything). A pair `open` refuses (busy port) goes
    /// back to the end of the queue. Gives up after trying every free pair once.
    pub fn allocate(&mut self, open: &mut dyn FnMut(u16) -> bool) -> Result<u16, RelayError> {
        for _ in 0..self.free.len() {
            let Some(port) = self.free.pop_front() else {
                break;
            };
            if open(port) {
                return Ok(port);
            }
            self.free.push_back(port);
        }
        Err(RelayError::PortsExhausted)
    }

    /// Gives a pair back. Ports outside the range or odd are ignored.
    pub fn release(&mut self, port: u16) {
        if port >= self.min && port < self.max && port % 2 == 0 {
            self.free.push_back(port);
        }
    }

    /// Index of the pair `port` belongs to (RTP or RTCP), when inside the range.
    pub fn pair_index(&self, port: u16) -> Option<usize> {
        (port >= self.min && port <= self.max).then(|| usize::from((port - self.min) / 2))
    }

    /// How many pairs the range holds.
    pub fn capacity(&self) -> usize {
        usize::from((self.max - self.min).div_ceil(2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_even_and_inside_the_range() {
        let mut pool = PortPool::new(30000, 30005).unwrap();
        assert_eq!(pool.free_pairs(), 3);
        let ports: Vec<u16> = (0..3)
            .map(|_| pool.allocate(&mut |_| true).unwrap())
            .collect();
        assert_eq!(ports, [30000, 30002, 30004]);
        assert!(matches!(
            pool.allocate(&mut |_| true),
            Err(RelayError::PortsExhausted)
        ));
    }

    #[test]
    fn released_pairs_are_reused_last() {
        let mut pool = PortPool::new(100, 106).unwrap();
        let a = pool.allocate(&mut |_| true).unwrap();
        pool.release(a);
        assert_eq!(pool.allocate(&mut |_| true).unwrap(), 102);
        assert_eq!(pool.allocate(&mut |_| true).unwrap(), 104);
        assert_eq!(pool.allocate(&mut |_| true).unwrap(), a);
    }

    #[test]
    fn busy_pairs_are_skipped() {
        let mut pool = PortPool::new(100, 106).unwrap();
        assert_eq!(pool.allocate(&mut |p| p != 100).unwrap(), 102);
        assert!(pool.allocate(&mut |_| false).is_err());
        assert_eq!(pool.free_pairs(), 2);
    }

    #[test]
    fn odd_or_inverted_ranges_are_refused() {
        assert!(PortPool::new(30001, 40000).is_err());
        assert!(PortPool::new(40000, 30000).is_err());
        assert!(PortPool::new(40000, 40000).is_err());
        assert!(PortPool::new(0, 10).is_err());
    }

    #[test]
    fn pair_index_covers_rtp_and_rtcp() {
        let pool = PortPool::new(30000, 30010).unwrap();
        assert_eq!(pool.pair_index(30002), Some(1));
        assert_eq!(pool.pair_index(30003), Some(1));
        assert_eq!(pool.pair_index(29999), None);
        assert_eq!(pool.capacity(), 5);
    }
}
