//! The `[tls]` section of the config file and the certificate `itsp serve` uses for SIP
//! over TLS: the operator's PEM files, or a self-signed certificate for the served
//! domains made on the first run in `DATA_DIR/tls/`. The files are read again on SIGHUP
//! and when they change on disk, so a renewed certificate (certbot, acme.sh) is used by
//! new connections without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use transport::tls::{Identity, Tls, Trust};

/// How often the certificate files are checked for changes.
const WATCH_INTERVAL: Duration = Duration::from_secs(10);

/// `[tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct TlsSection {
    /// The certificate chain (PEM, the server's certificate first); with `key`. Neither:
    /// a self-signed certificate in `DATA_DIR/tls/`.
    pub(crate) cert: Option<PathBuf>,
    /// The private key of `cert` (PEM).
    pub(crate) key: Option<PathBuf>,
    /// Further CA certificates (PEM files) trusted for connections itsp opens to other
    /// servers and gateways, besides the system's; and for the client certificates of
    /// servers that connect here (mutual TLS: a verified one naming the sender's Via
    /// sent-by lets its `alias` make the connection reusable, RFC 5923).
    pub(crate) ca: Vec<PathBuf>,
    /// Check the certificates of the servers itsp connects to (on by default); off, any
    /// certificate is accepted: encrypted, but not authenticated; no client certificate
    /// is asked for then (none could be verified).
    pub(crate) verify_server: bool,
    /// Peers (host names or IP addresses, e.g. a gateway with a self-signed certificate)
    /// whose certificates are not checked although `verify_server` is on.
    pub(crate) unverified_peers: Vec<String>,
}

impl Default for TlsSection {
    fn default() -> Self {
        TlsSection {
            cert: None,
            key: None,
            ca: Vec::new(),
            verify_server: true,
            unverified_peers: Vec::new(),
        }
    }
}

/// Where the server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CertSource {
    /// The operator's files.
    Files { cert: PathBuf, key: PathBuf },
    /// A self-signed certificate for these names, kept in this directory.
    SelfSigned { dir: PathBuf, names: Vec<String> },
}

impl CertSource {
    /// Reads (or, self-signed, makes when needed) the certificate at `now`; whether it
    /// was made now.
    pub(crate) fn load(&self, now: SystemTime) -> anyhow::Result<(Identity, bool)> {
        match self {
            CertSource::Files { cert, key } => {
                Ok((Identity::from_pem_files(cert, key, now)?, false))
            }
            CertSource::SelfSigned { dir, names } => Ok(Identity::self_signed(dir, names, now)?),
        }
    }

    /// The files to watch for changes.
    fn files(&self) -> [PathBuf; 2] {
        match self {
            CertSource::Files { cert, key } => [cert.clone(), key.clone()],
            CertSource::SelfSigned { dir, .. } => [dir.join("cert.pem"), dir.join("key.pem")],
        }
    }
}

impl TlsSection {
    /// Where the certificate comes from: the files named, or the self-signed one for
    /// `domains` in `data_dir/tls`. Both `cert` and `key`, or neither.
    pub(crate) fn source(&self, data_dir: &Path, domains: &[String]) -> Result<CertSource, String> {
        match (&self.cert, &self.key) {
            (Some(cert), Some(key)) => Ok(CertSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            }),
            (None, None) => Ok(CertSource::SelfSigned {
                dir: data_dir.join("tls"),
                names: domains.to_vec(),
            }),
            (Some(_), None) => Err("tls.cert is set but tls.key is not: both are needed".into()),
            (None, Some(_)) => Err("tls.key is set but tls.cert is not: both are needed".into()),
        }
    }

    /// The trust for outgoing TLS connections.
    pub(crate) fn trust(&self) -> Trust {
        if !self.verify_server {
            Trust::Any
        } else {
            Trust::Verify {
                extra_ca: self.ca.clone(),
            }
        }
    }

    /// What of the section needs a restart to change (the certificate files are read
    /// again on SIGHUP).
    pub(crate) fn restart_only(&self) -> impl std::fmt::Debug + '_ {
        (&self.ca, self.verify_server, &self.unverified_peers)
    }
}

/// The TLS side of the transports for `source` and the section's trust; logs where the
/// certificate came from and, for a self-signed one, how to install a real one.
pub(crate) fn start(source: &CertSource, section: &TlsSection) -> anyhow::Result<Arc<Tls>> {
    let (identity, made) = source.load(SystemTime::now())?;
    log_identity(source, &identity, made);
    let tls = Tls::new(identity, &section.trust())?
        .with_unverified(section.unverified_peers.iter().map(String::as_str));
    Ok(Arc::new(tls))
}

fn log_identity(source: &CertSource, identity: &Identity, made: bool) {
    let names = identity.names().join(",");
    let expires = identity.expires();
    match source {
        CertSource::Files { .. } => {
            tracing::info!(cert = identity.origin(), %names, %expires, "TLS certificate loaded");
        }
        CertSource::SelfSigned { .. } => {
            let what = if made {
                "made a self-signed TLS certificate"
            } else {
                "using the self-signed TLS certificate"
            };
            tracing::info!(
                cert = identity.origin(),
                %names,
                "{what}; phones must be told to accept it. For a real one set [tls] cert and \
                 key to its PEM files (e.g. from Let's Encrypt) and send SIGHUP"
            );
        }
    }
}

/// Reads the certificate again and, if it loads, uses it for new handshakes; a failure
/// keeps the running one. The outcome in words, for the reload log line.
pub(crate) fn reload(tls: &Tls, source: &CertSource) -> Result<String, String> {
    match source.load(SystemTime::now()) {
        Ok((identity, _)) => {
            let what = format!(
                "TLS certificate {} (expires {})",
                identity.origin(),
                identity.expires()
            );
            tls.replace_identity(identity);
            Ok(what)
        }
        Err(e) => Err(format!("TLS certificate ({e:#}); the running one is kept")),
    }
}

/// The modification times of `files` (none for a missing file).
fn stamps(files: &[PathBuf; 2]) -> [Option<SystemTime>; 2] {
    files
        .clone()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
}

/// Reloads the certificate whenever its files change on disk, checked every
/// [`WATCH_INTERVAL`]; runs until the process ends.
pub(crate) async fn watch(tls: Arc<Tls>, source: CertSource) {
    let files = source.files();
    let mut seen = stamps(&files);
    let mut tick = tokio::time::interval(WATCH_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = stamps(&files);
        if now == seen {
            continue;
        }
        seen = now;
        match reload(&tls, &source) {
            Ok(what) => tracing::info!(reloaded = %what, "certificate files changed"),
            Err(why) => tracing::warn!(not_reloaded = %why, "certificate files changed"),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cert_and_key_come_together() {
        let data = Path::new("/var/lib/itsp");
        let domains = vec!["example.com".to_owned()];
        let neither = TlsSection::default();
        assert_eq!(
            neither.source(data, &domains).unwrap(),
            CertSource::SelfSigned {
                dir: data.join("tls"),
                names: domains.clone()
            }
        );
        let half = TlsSection {
            cert: Some("/etc/itsp/cert.pem".into()),
            ..TlsSection::default()
        };
        assert!(half.source(data, &domains).unwrap_err().contains("tls.key"));
        assert_eq!(neither.trust(), Trust::default());
        let lax = TlsSection {
            verify_server: false,
            ..TlsSection::default()
        };
        assert_eq!(lax.trust(), Trust::Any);
    }
}
