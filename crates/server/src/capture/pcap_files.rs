//! [`PcapFiles`]: the rotated pcap files of `[capture] pcap_dir`, written by a thread of
//! their own (`capture-pcap`) from the ring, a few times a second. A file is closed past
//! `pcap_file_size` bytes and a new one started; past `pcap_files` files the oldest is
//! deleted. Files are named `itsp-YYYYMMDD-HHMMSS-N.pcap` (UTC, N counting the files of
//! one run, from 0001), so their names sort by time.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::engine::SystemNetwork;
use crate::sync::lock;

use super::pcap::{file_header, Encoder};
use super::ring::SharedRing;
use super::PcapConfig;

/// How often the thread reads the ring.
const INTERVAL: Duration = Duration::from_millis(200);

/// Records taken from the ring at a time.
const BATCH: usize = 1000;

/// The writer thread; [`PcapFiles::close`] writes what is left and stops it.
pub(crate) struct PcapFiles {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl PcapFiles {
    /// Creates the directory and starts the thread; it captures from the messages after
    /// `after` (the ring's last sequence number when the server starts).
    pub(crate) fn spawn(ring: SharedRing, config: PcapConfig) -> Result<PcapFiles, String> {
        std::fs::create_dir_all(&config.dir).map_err(|e| {
            format!(
                "capture.pcap_dir: cannot create {}: {e}",
                config.dir.display()
            )
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let after = lock(&ring).last_seq();
        let mut writer = Writer {
            after,
            ring,
            config,
            file: None,
            run_files: 0,
            encoder: Encoder::new(),
            network: SystemNetwork::default(),
        };
        let stopping = stop.clone();
        let thread = std::thread::Builder::new()
            .name("capture-pcap".into())
            .spawn(move || {
                tracing::info!(dir = %writer.config.dir.display(), "SIP capture to pcap files");
                loop {
                    let last_round = stopping.load(Ordering::Acquire);
                    writer.drain();
                    if last_round {
                        writer.finish();
                        return;
                    }
                    std::thread::park_timeout(INTERVAL);
                }
            })
            .map_err(|e| format!("cannot start the pcap writer thread: {e}"))?;
        Ok(PcapFiles {
            stop,
            thread: Some(thread),
        })
    }

    /// Writes what the ring holds that is not written yet, closes the file and stops.
    pub(crate) fn close(mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for PcapFiles {
    /// A server dropped without [`PcapFiles::close`] (one started but never run) stops
    /// the thread too, without waiting for it.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = &self.thread {
            thread.thread().unpark();
        }
    }
}

/// The file being written and how big it is.
struct OpenFile {
    out: BufWriter<File>,
    path: PathBuf,
    written: u64,
}

struct Writer {
    ring: SharedRing,
    config: PcapConfig,
    /// The last sequence number written.
    after: u64,
    file: Option<OpenFile>,
    /// Files started by this run (the N of the names).
    run_files: u64,
    encoder: Encoder,
    network: SystemNetwork,
}

impl Writer {
    /// Writes every record after `after`, in batches.
    fn drain(&mut self) {
        loop {
            let batch = lock(&self.ring).after(self.after, BATCH);
            if batch.missed > 0 {
                tracing::warn!(
                    missed = batch.missed,
                    "the pcap writer fell behind the capture ring; messages not written (raise capture.ring_messages or capture.ring_bytes)"
                );
            }
            let Some(last) = batch.records.last().map(|r| r.seq) else {
                return;
            };
            for record in batch.records {
                let mut message = record.message;
                message.resolve_local(&mut self.network);
                let bytes = self.encoder.record(&message);
                if let Err(e) = self.write(&bytes, message.unix_ms) {
                    tracing::error!(error = %e, dir = %self.config.dir.display(), "writing the pcap file failed; trying a new file");
                    self.file = None;
                }
            }
            self.after = last;
            if let Some(file) = &mut self.file {
                if let Err(e) = file.out.flush() {
                    tracing::error!(error = %e, file = %file.path.display(), "writing the pcap file failed");
                    self.file = None;
                }
            }
        }
    }

    /// Appends one record, to a new file when there is none or the current one is full.
    fn write(&mut self, record: &[u8], unix_ms: u64) -> std::io::Result<()> {
        let full = self
            .file
            .as_ref()
            .is_some_and(|f| f.written >= self.config.file_size);
        if full {
            self.finish();
        }
        if self.file.is_none() {
            self.file = Some(self.start_file(unix_ms)?);
        }
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        file.out.write_all(record)?;
        file.written += record.len() as u64;
        Ok(())
    }

    /// Opens a new file (its header written) and deletes the oldest past the count.
    fn start_file(&mut self, unix_ms: u64) -> std::io::Result<OpenFile> {
        self.run_files += 1;
        let name = format!(
            "itsp-{}-{:04}.pcap",
            super::time::file_stamp(unix_ms),
            self.run_files
        );
        let path = self.config.dir.join(name);
        let mut out = BufWriter::new(File::create(&path)?);
        let header = file_header();
        out.write_all(&header)?;
        prune(&self.config.dir, self.config.files);
        Ok(OpenFile {
            out,
            path,
            written: header.len() as u64,
        })
    }

    /// Flushes and closes the current file.
    fn finish(&mut self) {
        if let Some(mut file) = self.file.take() {
            if let Err(e) = file.out.flush() {
                tracing::error!(error = %e, file = %file.path.display(), "writing the pcap file failed");
            }
        }
    }
}

/// Deletes the oldest `itsp-*.pcap` files of `dir` but the newest `keep`.
fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("itsp-") && name.ends_with(".pcap")
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort();
    let excess = files.len().saturating_sub(keep);
    for (_, path) in files.into_iter().take(excess) {
        match std::fs::remove_file(&path) {
            Ok(()) => tracing::debug!(file = %path.display(), "old pcap file deleted"),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "cannot delete an old pcap file")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::capture::{Captured, Direction, Ring};
    use std::sync::Mutex;

    #[test]
    fn files_rotate_by_size_and_count() {
        let dir = tempfile::tempdir().unwrap();
        let ring: SharedRing = Arc::new(Mutex::new(Ring::new(1000, 1 << 20)));
        let files = PcapFiles::spawn(
            ring.clone(),
            PcapConfig {
                dir: dir.path().to_owned(),
                file_size: 1000,
                files: 3,
            },
        )
        .unwrap();
        for i in 0..40u64 {
            lock(&ring).push(Captured {
                unix_ms: 1_700_000_000_000 + i,
                direction: Direction::In,
                protocol: transport::Protocol::Udp,
                local: Some("127.0.0.1:5060".parse().unwrap()),
                remote: "127.0.0.1:5062".parse().unwrap(),
                bytes: bytes::Bytes::from(vec![b'x'; 200]),
            });
        }
        files.close();
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 3, "{names:?}");
        // A file is full from 1000 bytes on: the header and 4 records of 244 bytes; 40
        // records made 10 files, the newest 3 are kept.
        assert_eq!(
            names,
            [
                "itsp-20231114-221320-0008.pcap",
                "itsp-20231114-221320-0009.pcap",
                "itsp-20231114-221320-0010.pcap"
            ]
        );
        for name in &names {
            let len = std::fs::metadata(dir.path().join(name)).unwrap().len();
            assert_eq!(len, 24 + 4 * (16 + 20 + 8 + 200));
        }
    }
}
