//! The `[capture]` and `[control]` sections of the config file: the SIP capture (ring,
//! pcap files, HEP export) and the control socket `itsp trace` talks to.

use std::path::PathBuf;

use serde::Deserialize;
use server::capture::{CaptureConfig, HepConfig, PcapConfig};

/// `[capture]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CaptureSection {
    /// Messages the ring keeps; 0: no capture.
    pub(crate) ring_messages: usize,
    /// Bytes the ring keeps.
    pub(crate) ring_bytes: usize,
    /// Directory of rotated pcap files; empty: none.
    pub(crate) pcap_dir: String,
    /// Bytes per pcap file.
    pub(crate) pcap_file_size: u64,
    /// pcap files kept.
    pub(crate) pcap_files: usize,
    /// `udp:HOST:PORT` of a HEP collector; empty: no export.
    pub(crate) hep: String,
    /// HEP capture agent ID.
    pub(crate) hep_capture_id: u32,
    /// HEP authentication key; empty: none.
    pub(crate) hep_auth_key: String,
    /// HEP capture node name; empty: the host name.
    pub(crate) hep_node_name: String,
}

impl Default for CaptureSection {
    fn default() -> Self {
        CaptureSection {
            ring_messages: server::capture::DEFAULT_RING_MESSAGES,
            ring_bytes: server::capture::DEFAULT_RING_BYTES,
            pcap_dir: String::new(),
            pcap_file_size: server::capture::DEFAULT_PCAP_FILE_SIZE,
            pcap_files: server::capture::DEFAULT_PCAP_FILES,
            hep: String::new(),
            hep_capture_id: server::capture::DEFAULT_HEP_CAPTURE_ID,
            hep_auth_key: String::new(),
            hep_node_name: String::new(),
        }
    }
}

/// The smallest pcap file allowed: the header and one large message.
const MIN_PCAP_FILE_SIZE: u64 = 64 * 1024;

impl CaptureSection {
    /// The checked settings, or what is wrong (named by key).
    pub(crate) fn settings(&self) -> Result<CaptureConfig, String> {
        let ring_on = self.ring_messages > 0 && self.ring_bytes > 0;
        if self.ring_messages > 0 && self.ring_bytes < 64 * 1024 {
            return Err(format!(
                "capture.ring_bytes: {} is too small for a SIP message: at least 65536, or ring_messages = 0 to turn the capture off",
                self.ring_bytes
            ));
        }
        let pcap = if self.pcap_dir.trim().is_empty() {
            None
        } else {
            if !ring_on {
                return Err(
                    "capture.pcap_dir needs the capture: ring_messages must be at least 1".into(),
                );
            }
            if self.pcap_file_size < MIN_PCAP_FILE_SIZE {
                return Err(format!(
                    "capture.pcap_file_size: {} bytes is too small: at least {MIN_PCAP_FILE_SIZE}",
                    self.pcap_file_size
                ));
            }
            if self.pcap_files == 0 {
                return Err("capture.pcap_files must be at least 1".into());
            }
            Some(PcapConfig {
                dir: PathBuf::from(self.pcap_dir.trim()),
                file_size: self.pcap_file_size,
                files: self.pcap_files,
            })
        };
        let hep = if self.hep.trim().is_empty() {
            None
        } else {
            if !ring_on {
                return Err(
                    "capture.hep needs the capture: ring_messages must be at least 1".into(),
                );
            }
            let text = self.hep.trim();
            let collector = text
                .strip_prefix("udp:")
                .filter(|rest| {
                    rest.rsplit_once(':')
                        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
                })
                .ok_or_else(|| {
                    format!("capture.hep: {text:?} is not a HEP collector: write \"udp:HOST:PORT\", e.g. \"udp:homer.example.com:9060\"")
                })?;
            let optional = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
            let node_name = optional(&self.hep_node_name);
            if node_name.as_ref().is_some_and(|n| n.len() > 255) {
                return Err("capture.hep_node_name must be at most 255 bytes".into());
            }
            Some(HepConfig {
                collector: collector.to_owned(),
                capture_id: self.hep_capture_id,
                auth_key: optional(&self.hep_auth_key),
                node_name,
            })
        };
        Ok(CaptureConfig {
            ring_messages: self.ring_messages,
            ring_bytes: self.ring_bytes,
            pcap,
            hep,
        })
    }
}

/// `[control]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ControlSection {
    /// The control socket's path; empty: `control.sock` in the data directory.
    pub(crate) socket: String,
}

/// The control socket's file name in the data directory.
pub(crate) const CONTROL_SOCKET: &str = "control.sock";

impl ControlSection {
    /// The socket's path for a server whose data directory is `data_dir`.
    pub(crate) fn path(&self, data_dir: &std::path::Path) -> PathBuf {
        match self.socket.trim() {
            "" => data_dir.join(CONTROL_SOCKET),
            path => PathBuf::from(path),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn defaults_and_bad_values_named_by_key() {
        let d = CaptureSection::default().settings().unwrap();
        assert_eq!(d, CaptureConfig::default());
        let with = |f: &dyn Fn(&mut CaptureSection)| {
            let mut c = CaptureSection::default();
            f(&mut c);
            c.settings()
        };
        let e = with(&|c| c.hep = "homer:9060".into()).unwrap_err();
        assert!(e.starts_with("capture.hep:"), "{e}");
        let e = with(&|c| c.hep = "udp:homer".into()).unwrap_err();
        assert!(e.starts_with("capture.hep:"), "{e}");
        let e = with(&|c| c.pcap_files = 0).map(|_| ());
        assert_eq!(e, Ok(()), "pcap_files is only checked with a pcap_dir");
        let e = with(&|c| {
            c.pcap_dir = "/tmp/x".into();
            c.pcap_files = 0;
        })
        .unwrap_err();
        assert!(e.starts_with("capture.pcap_files"), "{e}");
        let e = with(&|c| c.ring_bytes = 10).unwrap_err();
        assert!(e.starts_with("capture.ring_bytes"), "{e}");
        let e = with(&|c| {
            c.ring_messages = 0;
            c.hep = "udp:127.0.0.1:9060".into();
        })
        .unwrap_err();
        assert!(e.starts_with("capture.hep needs"), "{e}");
        let off = with(&|c| c.ring_messages = 0).unwrap();
        assert!(!off.enabled());
        let hep = with(&|c| {
            c.hep = "udp:[::1]:9060".into();
            c.hep_auth_key = "secret".into();
        })
        .unwrap()
        .hep
        .unwrap();
        assert_eq!(hep.collector, "[::1]:9060");
        assert_eq!(hep.auth_key.as_deref(), Some("secret"));
        assert_eq!(hep.node_name, None);
    }

    #[test]
    fn the_control_socket_is_in_the_data_directory_by_default() {
        let dir = std::path::Path::new("/var/lib/itsp");
        assert_eq!(
            ControlSection::default().path(dir),
            dir.join("control.sock")
        );
        let moved = ControlSection {
            socket: "/run/itsp.sock".into(),
        };
        assert_eq!(moved.path(dir), PathBuf::from("/run/itsp.sock"));
    }
}
