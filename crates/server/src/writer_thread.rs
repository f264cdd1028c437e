//! [`WriterThread`]: a thread of its own that writes to the store in batches (group commit),
//! fed through a queue. The location write-through ([`crate::persist`]) and the call records
//! ([`crate::accounting`]) each run one with a [`store::Writer`].
//!
//! A thread rather than a task, because a commit blocks: SQLite runs the statements and the
//! fsync on the calling thread. How items gather into a batch is the [`Gathering`]: a
//! window after the first item, or batches spaced a minimum interval apart. Either way one
//! wake-up of the thread and one commit serve a whole batch, at most the maximum.
//!
//! Each writer keeps [`WriterStats`] for the metrics: items queued and not yet written,
//! and how long each batch's write took (a histogram); both cost a few atomic adds per
//! batch and one per item.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::StartError;
use crate::metrics::histogram::{Histogram, COMMIT_BOUNDS};
use crate::sync::lock;

/// The queue into a writer thread, and the signal that it has written everything.
pub(crate) struct WriterThread<T> {
    queue: Mutex<Option<mpsc::Sender<T>>>,
    finished: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
    stats: Arc<WriterStats>,
}

/// What a writer thread reports to the metrics.
#[derive(Debug)]
pub(crate) struct WriterStats {
    /// Items queued and not yet written (the batch being written included).
    queued: AtomicU64,
    /// How long each batch's write took (the commit).
    pub(crate) commits: Histogram,
}

impl Default for WriterStats {
    fn default() -> WriterStats {
        WriterStats {
            queued: AtomicU64::new(0),
            commits: Histogram::new(COMMIT_BOUNDS),
        }
    }
}

impl WriterStats {
    /// Items queued and not yet written.
    pub(crate) fn queue_depth(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }
}

impl<T> std::fmt::Debug for WriterThread<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = lock(&self.queue).is_some();
        f.debug_struct("WriterThread").field("open", &open).finish()
    }
}

/// How a writer thread gathers items into a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gathering {
    /// After the first item of a batch, wait this long for more: everything queued by then
    /// is one batch. Every item waits the window, so changes that cancel out within it
    /// (a call that starts and ends) meet in one batch.
    WindowAfterFirst(Duration),
    /// Batches start at least this long apart: an item that arrives after a quiet spell is
    /// written at once, and under load each batch takes what queued since the previous one
    /// started. The wait appears only under load, and then the thread sleeps once per
    /// batch instead of being woken by its first item.
    Spaced(Duration),
}

impl<T: Send + 'static> WriterThread<T> {
    /// Starts thread `name`, which hands each batch (gathered as `gathering` says, at most
    /// `max_batch` items) to `write`.
    pub(crate) fn spawn(
        name: &str,
        gathering: Gathering,
        max_batch: usize,
        mut write: impl FnMut(Vec<T>) + Send + 'static,
    ) -> Result<WriterThread<T>, StartError> {
        let (tx, rx) = mpsc::channel();
        let (finished_tx, finished) = oneshot::channel();
        let stats = Arc::new(WriterStats::default());
        let thread_stats = stats.clone();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let mut last_start = None;
                while let Some(batch) = next_batch(&rx, gathering, &mut last_start, max_batch) {
                    let items = batch.len() as u64;
                    let started = Instant::now();
                    write(batch);
                    thread_stats.commits.observe(started.elapsed());
                    thread_stats.queued.fetch_sub(items, Ordering::Relaxed);
                }
                let _ = finished_tx.send(());
            })
            .map_err(StartError::Thread)?;
        Ok(WriterThread {
            queue: Mutex::new(Some(tx)),
            finished: tokio::sync::Mutex::new(Some(finished)),
            stats,
        })
    }

    /// Queues `item`; never waits. `Err` gives it back when the thread is closed.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        match lock(&self.queue).as_ref() {
            Some(tx) => {
                // Counted before the thread can take it, so the depth never goes below 0.
                self.stats.queued.fetch_add(1, Ordering::Relaxed);
                tx.send(item).map_err(|e| {
                    self.stats.queued.fetch_sub(1, Ordering::Relaxed);
                    e.0
                })
            }
            None => Err(item),
        }
    }

    /// The queue depth and commit times, shared with the metrics.
    pub(crate) fn stats(&self) -> Arc<WriterStats> {
        self.stats.clone()
    }

    /// Takes no more items and waits until the thread has written every queued one.
    pub(crate) async fn close(&self) {
        lock(&self.queue).take();
        if let Some(finished) = self.finished.lock().await.take() {
            let _ = finished.await;
        }
    }
}

/// The next batch: waits for a first item, then as long as `gathering` says (`last_start`:
/// when the previous batch was taken), then takes what is queued, up to `max_batch`. `None`
/// when every sender is gone and the queue is empty.
fn next_batch<T>(
    rx: &mpsc::Receiver<T>,
    gathering: Gathering,
    last_start: &mut Option<Instant>,
    max_batch: usize,
) -> Option<Vec<T>> {
    let first = rx.recv().ok()?;
    let mut batch = vec![first];
    let wait = match gathering {
        Gathering::WindowAfterFirst(window) => window,
        Gathering::Spaced(interval) => last_start
            .map(|start| interval.saturating_sub(start.elapsed()))
            .unwrap_or_default(),
    };
    if !wait.is_zero() {
        std::thread::sleep(wait);
    }
    *last_start = Some(Instant::now());
    while batch.len() < max_batch {
        match rx.try_recv() {
            Ok(item) => batch.push(item),
            Err(_) => break,
        }
    }
    Some(batch)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[tokio::test]
    async fn batches_keep_the_order_and_the_limit_and_close_writes_everything() {
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let window = Gathering::WindowAfterFirst(Duration::from_millis(200));
        let thread = WriterThread::spawn("test-writer", window, 3, move |b| {
            seen_tx.send(b).unwrap();
        })
        .unwrap();
        for i in 0..7 {
            thread.send(i).unwrap();
        }
        thread.close().await;
        assert_eq!(thread.send(99), Err(99), "closed: the item comes back");
        let batches: Vec<Vec<i32>> = seen_rx.try_iter().collect();
        assert!(
            batches.iter().all(|b| !b.is_empty() && b.len() <= 3),
            "{batches:?}"
        );
        assert_eq!(batches.concat(), (0..7).collect::<Vec<_>>());
        // Queued within one window: full batches, not one write per item.
        assert_eq!(batches.len(), 3, "{batches:?}");
        // The metrics: nothing left queued, one commit time per batch.
        let stats = thread.stats();
        assert_eq!(stats.queue_depth(), 0);
        assert_eq!(stats.commits.snapshot().count, 3);
    }

    #[test]
    fn spaced_batches_write_a_lone_item_at_once_and_gather_under_load() {
        let interval = Duration::from_millis(1500);
        let (seen_tx, seen_rx) = std::sync::mpsc::channel();
        let thread = WriterThread::spawn("test-writer", Gathering::Spaced(interval), 10, {
            move |b: Vec<i32>| seen_tx.send((Instant::now(), b)).unwrap()
        })
        .unwrap();
        let sent = Instant::now();
        thread.send(1).unwrap();
        let (first_at, first) = seen_rx.recv().unwrap();
        assert_eq!(first, vec![1]);
        assert!(
            first_at - sent < Duration::from_millis(1000),
            "after a quiet spell an item is written at once, not after the interval"
        );
        // Within the interval after that batch: these wait for its end, together.
        thread.send(2).unwrap();
        thread.send(3).unwrap();
        let (second_at, second) = seen_rx.recv().unwrap();
        assert_eq!(second, vec![2, 3]);
        assert!(second_at - first_at >= interval - Duration::from_millis(50));
    }
}
