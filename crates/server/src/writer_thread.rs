//! [`WriterThread`]: a thread of its own that writes to the store in batches (group commit),
//! fed through a queue. The location write-through ([`crate::persist`]) and the call records
//! ([`crate::accounting`]) each run one with a [`store::Writer`].
//!
//! A thread rather than a task, because a commit blocks: SQLite runs the statements and the
//! fsync on the calling thread. A batch is the first item queued and whatever else arrives
//! within the window after it (or while the previous batch was written), at most the
//! maximum; one wake-up of the thread and one commit serve them all.

use std::sync::mpsc;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::oneshot;

use crate::core::lock;
use crate::run::StartError;

/// The queue into a writer thread, and the signal that it has written everything.
pub(crate) struct WriterThread<T> {
    queue: Mutex<Option<mpsc::Sender<T>>>,
    finished: tokio::sync::Mutex<Option<oneshot::Receiver<()>>>,
}

impl<T> std::fmt::Debug for WriterThread<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = lock(&self.queue).is_some();
        f.debug_struct("WriterThread").field("open", &open).finish()
    }
}

impl<T: Send + 'static> WriterThread<T> {
    /// Starts thread `name`, which hands each batch (gathered over `window` after its first
    /// item, at most `max_batch` items) to `write`.
    pub(crate) fn spawn(
        name: &str,
        window: Duration,
        max_batch: usize,
        mut write: impl FnMut(Vec<T>) + Send + 'static,
    ) -> Result<WriterThread<T>, StartError> {
        let (tx, rx) = mpsc::channel();
        let (finished_tx, finished) = oneshot::channel();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while let Some(batch) = next_batch(&rx, window, max_batch) {
                    write(batch);
                }
                let _ = finished_tx.send(());
            })
            .map_err(StartError::Thread)?;
        Ok(WriterThread {
            queue: Mutex::new(Some(tx)),
            finished: tokio::sync::Mutex::new(Some(finished)),
        })
    }

    /// Queues `item`; never waits. `Err` gives it back when the thread is closed.
    pub(crate) fn send(&self, item: T) -> Result<(), T> {
        match lock(&self.queue).as_ref() {
            Some(tx) => tx.send(item).map_err(|e| e.0),
            None => Err(item),
        }
    }

    /// Takes no more items and waits until the thread has written every queued one.
    pub(crate) async fn close(&self) {
        lock(&self.queue).take();
        if let Some(finished) = self.finished.lock().await.take() {
            let _ = finished.await;
        }
    }
}

/// The next batch: waits for a first item, then `window`, then takes what is queued, up to
/// `max_batch`. `None` when every sender is gone and the queue is empty.
fn next_batch<T>(rx: &mpsc::Receiver<T>, window: Duration, max_batch: usize) -> Option<Vec<T>> {
    let first = rx.recv().ok()?;
    let mut batch = vec![first];
    if !window.is_zero() {
        std::thread::sleep(window);
    }
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
        let thread = WriterThread::spawn("test-writer", Duration::from_millis(20), 3, move |b| {
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
    }
}
