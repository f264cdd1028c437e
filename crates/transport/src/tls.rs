//! SIP over TLS (RFC 3261 §26.2.1, RFC 5630): the server's certificate and key, the trust
//! used for connections this side opens, and the rustls configurations built from them.
//!
//! The certificate comes from PEM files the operator names, or, with none named, from a
//! self-signed certificate made on the first run for the served domains and kept in the
//! data directory, so that TLS works out of the box and phones that accept a self-signed
//! certificate (or are given it) can use it. Loading checks what an operator gets wrong:
//! an unreadable file, no certificate or no key in it, a key that belongs to another
//! certificate, a certificate outside its validity period.
//!
//! The identity in use can be replaced while the server runs ([`Tls::replace_identity`]):
//! new handshakes use the new certificate, established connections keep theirs.
//!
//! Mutual TLS between servers (RFC 5923 §9.2, RFC 5922 §7.3, §7.4): the identity is also
//! the client certificate of the connections this side opens, and the acceptor asks every
//! client for one without requiring it (phones have none). A certificate a client presents
//! is checked after the handshake against the same [`Trust`] as outgoing connections; one
//! that does not verify leaves the connection up but unauthenticated
//! ([`ClientIdentity::Unverified`]) instead of failing the handshake, because phones with
//! a vendor's device certificate and gateways among the unverified peers present
//! certificates no CA here vouches for, and refusing them would cut off callers who never
//! asked to be authenticated. Only a verified certificate's names let a connection be
//! reused for requests toward its sender (the `alias` of RFC 5923, in `tcp.rs`).
//!
//! ## Layout
//!
//! - [`Identity`]: a certificate chain with its key, checked, with its names and expiry.
//! - [`Trust`]: how certificates of servers this side connects to, and of clients that
//!   present one, are checked.
//! - [`Tls`]: the acceptor (asking for an optional client certificate; not for `wss:`,
//!   where browsers could show a certificate picker) and connector
//!   (presenting the identity), the replaceable identity, and the names that outgoing
//!   connections to an address are verified against (RFC 5922 §7).
//! - [`ClientIdentity`], [`CertNames`]: what a client's certificate proved, and the SIP
//!   domain identities in a certificate compared with a Via sent-by (RFC 5922 §7.1, §7.2).
//! - [`TlsError`]: what went wrong, naming the file.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use sip::headers::rfc3339;

/// Outgoing TLS peers whose verification name is remembered; past this the map is
/// cleared (names are entered again as destinations are located).
const MAX_NAMED_PEERS: usize = 4096;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A file could not be written (the self-signed certificate of a first run).
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{path}: no certificate found (expected a PEM block \"-----BEGIN CERTIFICATE-----\")")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no PEM private key.
    #[error(
        "{path}: no private key found (expected a PEM block \"-----BEGIN PRIVATE KEY-----\", \
         \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\")"
    )]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// A PEM block or the certificate in it could not be decoded.
    #[error("{path}: {reason}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The key is not the one the certificate was issued for.
    #[error("the key in {key} does not belong to the certificate in {cert}")]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The certificate has expired.
    #[error("the certificate in {path} expired on {not_after}; install a new one")]
    Expired {
        /// The file.
        path: PathBuf,
        /// Its end of validity (RFC 3339).
        not_after: String,
    },
    /// The certificate is not valid yet.
    #[error("the certificate in {path} is not valid before {not_before} (check the clock)")]
    NotYetValid {
        /// The file.
        path: PathBuf,
        /// Its start of validity (RFC 3339).
        not_before: String,
    },
    /// A self-signed certificate could not be made.
    #[error("cannot make a self-signed certificate: {0}")]
    Generate(String),
    /// rustls refused the configuration.
    #[error("TLS configuration: {0}")]
    Config(String),
}

/// A certificate chain and its private key, checked to belong together and to be valid
/// now.
#[derive(Clone)]
pub struct Identity {
    key: Arc<CertifiedKey>,
    /// The DNS names and addresses of the end-entity certificate (its subject alternative
    /// names), for logs.
    names: Vec<String>,
    /// End of validity, Unix seconds.
    not_after: i64,
    /// Where it came from, for logs.
    origin: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("names", &self.names)
            .field("not_after", &self.not_after)
            .field("origin", &self.origin)
            .finish()
    }
}

/// The ring provider every configuration here uses. rustls now prefers aws-lc-rs for its
/// post-quantum key exchange; ring builds without a C toolchain step, is already in the
/// tree (lettre's SMTP), and SIP peers do not offer post-quantum groups.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn unix_secs(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

impl Identity {
    /// Reads a PEM certificate chain (end-entity first) and a PEM private key, and checks
    /// them at `now`.
    pub fn from_pem_files(cert: &Path, key: &Path, now: SystemTime) -> Result<Identity, TlsError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::Read {
                path: path.to_owned(),
                source,
            })
        };
        let (cert_pem, key_pem) = (read(cert)?, read(key)?);
        Identity::from_pem(&cert_pem, cert, &key_pem, key, now)
    }

    /// As [`Identity::from_pem_files`], from the files' contents; the paths are for the
    /// messages.
    pub fn from_pem(
        cert_pem: &[u8],
        cert_path: &Path,
        key_pem: &[u8],
        key_path: &Path,
        now: SystemTime,
    ) -> Result<Identity, TlsError> {
        let malformed = |path: &Path, reason: String| TlsError::Malformed {
            path: path.to_owned(),
            reason,
        };
        let chain = CertificateDer::pem_slice_iter(cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| malformed(cert_path, format!("bad PEM: {e}")))?;
        let Some(leaf) = chain.first() else {
            return Err(TlsError::NoCertificate {
                path: cert_path.to_owned(),
            });
        };
        let (_, parsed) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| malformed(cert_path, format!("not an X.509 certificate: {e}")))?;
        let validity = parsed.validity();
        let (not_before, not_after) = (
            validity.not_before.timestamp(),
            validity.not_after.timestamp(),
        );
        let now = unix_secs(now);
        if now > not_after {
            return Err(TlsError::Expired {
                path: cert_path.to_owned(),
                not_after: rfc3339(not_after),
            });
        }
        if now < not_before {
            return Err(TlsError::NotYetValid {
                path: cert_path.to_owned(),
                not_before: rfc3339(not_before),
            });
        }
        let mut names = Vec::new();
        if let Ok(Some(san)) = parsed.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    x509_parser::extensions::GeneralName::DNSName(n) => names.push((*n).to_owned()),
                    x509_parser::extensions::GeneralName::IPAddress(b) => {
                        if let Ok(octets) = <[u8; 4]>::try_from(*b) {
                            names.push(std::net::Ipv4Addr::from(octets).to_string());
                        } else if let Ok(octets) = <[u8; 16]>::try_from(*b) {
                            names.push(std::net::Ipv6Addr::from(octets).to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        let key = match PrivateKeyDer::from_pem_slice(key_pem) {
            Ok(key) => key,
            Err(rustls::pki_types::pem::Error::NoItemsFound) => {
                return Err(TlsError::NoKey {
                    path: key_path.to_owned(),
                })
            }
            Err(e) => return Err(malformed(key_path, format!("bad PEM: {e}"))),
        };
        let certified = CertifiedKey::from_der(chain, key, &provider()).map_err(|e| match e {
            rustls::Error::InconsistentKeys(_) => TlsError::KeyMismatch {
                cert: cert_path.to_owned(),
                key: key_path.to_owned(),
            },
            other => malformed(key_path, format!("unusable private key: {other}")),
        })?;
        Ok(Identity {
            key: Arc::new(certified),
            names,
            not_after,
            origin: cert_path.display().to_string(),
        })
    }

    /// The self-signed certificate kept in `dir` (`cert.pem`, `key.pem`), made there for
    /// `names` when absent, or when the one there has expired or no longer names them all.
    /// Whether it was made now is the second value.
    pub fn self_signed(
        dir: &Path,
        names: &[String],
        now: SystemTime,
    ) -> Result<(Identity, bool), TlsError> {
        let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
        if cert_path.exists() && key_path.exists() {
            if let Ok(identity) = Identity::from_pem_files(&cert_path, &key_path, now) {
                if names.iter().all(|n| identity.names.contains(n)) {
                    return Ok((identity, false));
                }
            }
        }
        let made = rcgen::generate_simple_self_signed(names.to_vec())
            .map_err(|e| TlsError::Generate(e.to_string()))?;
        std::fs::create_dir_all(dir).map_err(|source| TlsError::Write {
            path: dir.to_owned(),
            source,
        })?;
        write_private(&key_path, made.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, made.cert.pem()).map_err(|source| TlsError::Write {
            path: cert_path.clone(),
            source,
        })?;
        let identity = Identity::from_pem_files(&cert_path, &key_path, now)?;
        Ok((identity, true))
    }

    /// The names the certificate is for (DNS names and IP addresses).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// When it expires, RFC 3339.
    pub fn expires(&self) -> String {
        rfc3339(self.not_after)
    }

    /// Where it was read from.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// Writes a file only its owner can read (a private key).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), TlsError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| TlsError::Write {
        path: path.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(err)?;
    file.write_all(bytes).map_err(err)
}

/// How the certificates of servers this side connects to, and the client certificates
/// presented to it, are checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Against the system's CA certificates and these PEM files of further CAs: a server
    /// for the name the destination was located by (RFC 5922 §7.2) or its address; a
    /// client's certificate for its chain (and, if it has any, a client-authentication
    /// extended key usage), its names compared later with what the client claims.
    Verify {
        /// Further CA certificates (PEM files), e.g. a private CA or a peer's self-signed
        /// certificate.
        extra_ca: Vec<PathBuf>,
    },
    /// Any server certificate is accepted (the connection is encrypted but the peer is
    /// not authenticated): for tests and peers with self-signed certificates one cannot
    /// collect. No client certificate is asked for: none could be verified.
    Any,
}

/// The roots of [`Trust::Verify`]: the system's CA certificates (what loads of them) and
/// the extra PEM files (each must hold at least one usable certificate).
fn roots(extra_ca: &[PathBuf]) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    // The system store may be missing or partly unreadable; what loads is used.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for path in extra_ca {
        let pem = std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.clone(),
            source,
        })?;
        let mut found = false;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| TlsError::Malformed {
                path: path.clone(),
                reason: format!("bad PEM: {e}"),
            })?;
            roots.add(cert).map_err(|e| TlsError::Malformed {
                path: path.clone(),
                reason: format!("not a usable CA certificate: {e}"),
            })?;
            found = true;
        }
        if !found {
            return Err(TlsError::NoCertificate { path: path.clone() });
        }
    }
    Ok(roots)
}

impl Default for Trust {
    fn default() -> Trust {
        Trust::Verify {
            extra_ca: Vec::new(),
        }
    }
}

/// The certificate handshakes use now, as server and as client; replaced on reload.
#[derive(Debug)]
struct CurrentIdentity(RwLock<Identity>);

impl CurrentIdentity {
    fn key(&self) -> Arc<CertifiedKey> {
        let identity = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        identity.key.clone()
    }
}

impl ResolvesServerCert for CurrentIdentity {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }
}

/// Our certificate as the client certificate of the connections this side opens (RFC
/// 5923 §9.1: both ends of a reused connection are authenticated), whatever CAs the
/// server hints at: a peer that trusts it by a private CA or pinned certificate may not
/// name it. rustls sends none when the key cannot sign with a scheme the server offers.
impl ResolvesClientCert for CurrentIdentity {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.key())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The acceptor's client-certificate policy: ask every client for a certificate, require
/// none, and accept whatever is presented during the handshake, checking only that the
/// client holds its key (the handshake signatures). The chain itself is verified after the
/// handshake ([`Tls::client_identity`]), so that a certificate no trusted CA issued makes
/// the connection unauthenticated rather than failing it (see the module documentation).
/// No CA names are hinted: a client should send whatever certificate it has, and the
/// system store would make the request kilobytes long.
#[derive(Debug)]
struct OptionalClientCert(Arc<CryptoProvider>);

impl ClientCertVerifier for OptionalClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The SIP domain identities of a certificate (RFC 5922 §7.1) and its IP addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// The host parts of `sip:` URIs without a user part and the DNS names of the
    /// subjectAltName, lower case, without a trailing dot.
    pub domains: Vec<String>,
    /// Its iPAddress subjectAltNames.
    pub ips: Vec<std::net::IpAddr>,
}

impl CertNames {
    /// The names in a DER certificate's subjectAltName (RFC 5922 §7.1): a
    /// uniformResourceIdentifier of scheme `sip` without a user part gives its host part,
    /// a dNSName itself; URIs of other schemes or with a user part are not domain
    /// identities. The subject's CN, which §7.1 allows looking at only without any
    /// subjectAltName, is not used. A certificate that does not parse has no names.
    pub fn of_der(der: &[u8]) -> CertNames {
        use x509_parser::extensions::GeneralName;
        let mut names = CertNames::default();
        let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
            return names;
        };
        let Ok(Some(san)) = cert.subject_alternative_name() else {
            return names;
        };
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(n) => names.domains.push(normalize_peer(n)),
                GeneralName::URI(uri) => {
                    if let Some(host) = sip_uri_domain(uri) {
                        names.domains.push(host);
                    }
                }
                GeneralName::IPAddress(b) => {
                    if let Ok(octets) = <[u8; 4]>::try_from(*b) {
                        names.ips.push(std::net::Ipv4Addr::from(octets).into());
                    } else if let Ok(octets) = <[u8; 16]>::try_from(*b) {
                        names.ips.push(std::net::Ipv6Addr::from(octets).into());
                    }
                }
                _ => {}
            }
        }
        names
    }

    /// Whether the certificate names `host`, a Via sent-by host (RFC 5923 §9.2 with the
    /// comparison of RFC 5922 §7.2): a name equals one of the domain identities, compared
    /// without case and trailing dot, with no wildcard matching — a `*` in a certificate
    /// is a literal character for SIP, so `*.example.com` names no host; an IP address
    /// equals one of the iPAddress entries. RFC 5922 has no IP identities; they are
    /// accepted because this server's own Via carries its IP address, and an iPAddress
    /// entry a trusted CA signed vouches for that address as a dNSName does for a name.
    pub fn names(&self, host: &sip::uri::Host<'_>) -> bool {
        match host {
            sip::uri::Host::Name(name) => {
                let name = normalize_peer(name);
                !name.is_empty() && self.domains.contains(&name)
            }
            sip::uri::Host::V4(ip) => self.ips.contains(&std::net::IpAddr::V4(*ip)),
            sip::uri::Host::V6(ip) => self.ips.contains(&std::net::IpAddr::V6(*ip)),
        }
    }
}

impl fmt::Display for CertNames {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let ips: Vec<String> = self.ips.iter().map(ToString::to_string).collect();
        for name in self.domains.iter().chain(&ips) {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            f.write_str(name)?;
        }
        Ok(())
    }
}

/// The host part of `sip:host[:port][;params]` (any case of the scheme) when it has no
/// user part (RFC 5922 §7.1), normalized; `None` for other URIs.
fn sip_uri_domain(uri: &str) -> Option<String> {
    let rest = uri
        .get(..4)
        .filter(|scheme| scheme.eq_ignore_ascii_case("sip:"))
        .and_then(|_| uri.get(4..))?;
    let hostport = rest.split([';', '?']).next().unwrap_or(rest);
    if hostport.contains('@') || hostport.is_empty() {
        return None;
    }
    let host = if hostport.starts_with('[') {
        hostport.split_inclusive(']').next().unwrap_or(hostport)
    } else {
        hostport.split(':').next().unwrap_or(hostport)
    };
    let host = normalize_peer(host);
    (!host.is_empty()).then_some(host)
}

/// What the client of an accepted TLS connection proved about itself with its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientIdentity {
    /// No certificate was presented (a phone, usually).
    Anonymous,
    /// A certificate was presented but not verified against the [`Trust`]: why.
    Unverified(String),
    /// The chain verified; the certificate's names.
    Verified(CertNames),
}

/// A verifier that accepts any server certificate but still checks the handshake's
/// signatures ([`Trust::Any`]).
#[derive(Debug)]
struct AcceptAnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client configuration for `trust`, presenting no client certificate (what a phone
/// uses).
pub fn client_config(trust: &Trust) -> Result<rustls::ClientConfig, TlsError> {
    let roots = match trust {
        Trust::Any => None,
        Trust::Verify { extra_ca } => Some(Arc::new(roots(extra_ca)?)),
    };
    client_config_with(roots, None)
}

/// The client configuration verifying servers against `roots` (`None`: any certificate,
/// [`Trust::Any`]) and presenting `identity`, if given, when a server asks for a client
/// certificate.
fn client_config_with(
    roots: Option<Arc<RootCertStore>>,
    identity: Option<Arc<CurrentIdentity>>,
) -> Result<rustls::ClientConfig, TlsError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match roots {
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider))),
        Some(roots) => builder.with_root_certificates(roots),
    };
    Ok(match identity {
        Some(identity) => builder.with_client_cert_resolver(identity),
        None => builder.with_no_client_auth(),
    })
}

/// The TLS side of the transports: accepts with the current identity, connects with the
/// configured trust.
pub struct Tls {
    current: Arc<CurrentIdentity>,
    acceptor: tokio_rustls::TlsAcceptor,
    /// The acceptor of `wss:` listeners: the same identity, no client certificate asked.
    websocket_acceptor: tokio_rustls::TlsAcceptor,
    /// Verifies a client's certificate after the handshake; `None` with [`Trust::Any`] or
    /// no root at all (then no client certificate is asked for).
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
    connector: tokio_rustls::TlsConnector,
    /// For the peers whose certificates are not checked ([`Tls::with_unverified`]).
    lax: tokio_rustls::TlsConnector,
    /// Host names (lower case, no trailing dot) and IP addresses of those peers.
    unverified: std::collections::HashSet<String>,
    /// The name each outgoing destination is verified against, when it was located by
    /// one ([`Tls::name_peer`]); others are verified against their IP address.
    names: Mutex<HashMap<SocketAddr, ServerName<'static>>>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("identity", &*self.identity())
            .finish()
    }
}

impl Tls {
    /// Serves `identity`, presents it as client certificate, and checks servers and
    /// presented client certificates with `trust`.
    pub fn new(identity: Identity, trust: &Trust) -> Result<Tls, TlsError> {
        let current = Arc::new(CurrentIdentity(RwLock::new(identity)));
        let roots = match trust {
            Trust::Any => None,
            Trust::Verify { extra_ca } => Some(Arc::new(roots(extra_ca)?)),
        };
        // Without any root (no system store, no extra CA) nothing could verify.
        let client_verifier = match &roots {
            Some(roots) if !roots.is_empty() => Some(
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider())
                    .build()
                    .map_err(|e| TlsError::Config(e.to_string()))?,
            ),
            _ => None,
        };
        let server = || {
            rustls::ServerConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .map_err(|e| TlsError::Config(e.to_string()))
        };
        let sip = match client_verifier {
            Some(_) => {
                server()?.with_client_cert_verifier(Arc::new(OptionalClientCert(provider())))
            }
            None => server()?.with_no_client_auth(),
        }
        .with_cert_resolver(current.clone());
        // Browsers (WSS) are never asked: a request for a client certificate makes some
        // show a certificate picker, and RFC 7118 has no use for one.
        let websocket = server()?
            .with_no_client_auth()
            .with_cert_resolver(current.clone());
        let client = client_config_with(roots, Some(current.clone()))?;
        let lax = client_config_with(None, Some(current.clone()))?;
        Ok(Tls {
            current,
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(sip)),
            websocket_acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(websocket)),
            client_verifier,
            connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
            lax: tokio_rustls::TlsConnector::from(Arc::new(lax)),
            unverified: std::collections::HashSet::new(),
            names: Mutex::default(),
        })
    }

    /// Accepts any certificate from these peers (host names or IP addresses, e.g. a PSTN
    /// gateway with a self-signed certificate), checking the others as the trust says.
    pub fn with_unverified<'a>(mut self, peers: impl IntoIterator<Item = &'a str>) -> Tls {
        self.unverified = peers.into_iter().map(normalize_peer).collect();
        self
    }

    /// The identity handshakes use now.
    pub fn identity(&self) -> std::sync::RwLockReadGuard<'_, Identity> {
        self.current
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Uses `identity` for the handshakes from now on.
    pub fn replace_identity(&self, identity: Identity) {
        *self
            .current
            .0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = identity;
    }

    /// Remembers that `addr` was located by `name` (a domain's SRV target, a gateway's
    /// host): a connection opened to it verifies the certificate for that name (RFC 5922
    /// §7.2). A name that is not a valid DNS name is ignored.
    pub fn name_peer(&self, addr: SocketAddr, name: &str) {
        let Ok(server_name) = ServerName::try_from(name.trim_end_matches('.').to_owned()) else {
            return;
        };
        let mut names = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if names.len() >= MAX_NAMED_PEERS && !names.contains_key(&addr) {
            names.clear();
        }
        names.insert(addr, server_name);
    }

    /// The DNS name `addr` was located by ([`Tls::name_peer`]), lower case without a
    /// trailing dot: how a send finds a connection aliased to that name (RFC 5923).
    pub(crate) fn peer_name(&self, addr: SocketAddr) -> Option<String> {
        let names = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match names.get(&addr)? {
            ServerName::DnsName(name) => Some(normalize_peer(name.as_ref())),
            _ => None,
        }
    }

    /// What the certificate chain a client presented in an accepted handshake proves
    /// (`None`: it presented none): verified against the trust at `now`, or why not.
    pub fn client_identity(
        &self,
        chain: Option<&[CertificateDer<'_>]>,
        now: SystemTime,
    ) -> ClientIdentity {
        let Some((leaf, intermediates)) = chain.and_then(<[_]>::split_first) else {
            return ClientIdentity::Anonymous;
        };
        let Some(verifier) = &self.client_verifier else {
            return ClientIdentity::Unverified(
                "no trusted CA to verify client certificates against".into(),
            );
        };
        let now = UnixTime::since_unix_epoch(now.duration_since(UNIX_EPOCH).unwrap_or_default());
        match verifier.verify_client_cert(leaf, intermediates, now) {
            Ok(_) => ClientIdentity::Verified(CertNames::of_der(leaf)),
            Err(e) => ClientIdentity::Unverified(e.to_string()),
        }
    }

    /// The name a connection to `addr` is verified against.
    fn server_name(&self, addr: SocketAddr) -> ServerName<'static> {
        let names = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        names
            .get(&addr)
            .cloned()
            .unwrap_or_else(|| ServerName::IpAddress(addr.ip().into()))
    }

    /// The acceptor of `tls:` listeners (an optional client certificate asked for).
    pub(crate) fn acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.acceptor
    }

    /// The acceptor of `wss:` listeners (no client certificate asked for).
    pub(crate) fn websocket_acceptor(&self) -> &tokio_rustls::TlsAcceptor {
        &self.websocket_acceptor
    }

    /// Opens TLS on `stream`, a TCP connection to `addr`, checking the certificate unless
    /// the name it is checked for, or the address, is among the unverified peers.
    pub(crate) async fn connect(
        &self,
        addr: SocketAddr,
        stream: tokio::net::TcpStream,
    ) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
        let name = self.server_name(addr);
        let unverified = !self.unverified.is_empty()
            && (self.unverified.contains(&addr.ip().to_string())
                || matches!(&name, ServerName::DnsName(n)
                    if self.unverified.contains(&normalize_peer(n.as_ref()))));
        let connector = if unverified {
            &self.lax
        } else {
            &self.connector
        };
        connector.connect(name, stream).await
    }
}

/// A peer as [`Tls::with_unverified`] compares it: lower case, no trailing dot, an IPv6
/// address without brackets.
fn normalize_peer(peer: &str) -> String {
    peer.trim()
        .trim_end_matches('.')
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::time::Duration;

    fn names() -> Vec<String> {
        vec!["example.com".into(), "127.0.0.1".into()]
    }

    /// A self-signed certificate's DER with these subjectAltNames.
    fn cert_with(sans: Vec<rcgen::SanType>) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::default();
        params.subject_alt_names = sans;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    fn host(text: &'static str) -> sip::uri::Host<'static> {
        if let Ok(ip) = text.parse() {
            sip::uri::Host::V4(ip)
        } else if let Some(v6) = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            sip::uri::Host::V6(v6.parse().unwrap())
        } else {
            sip::uri::Host::Name(text)
        }
    }

    #[test]
    fn certificate_names_match_a_sent_by_as_rfc_5922_compares_them() {
        use rcgen::SanType;
        let dns = |n: &str| SanType::DnsName(n.try_into().unwrap());
        let uri = |u: &str| SanType::URI(u.try_into().unwrap());
        let names = CertNames::of_der(&cert_with(vec![
            dns("Proxy.A.test"),
            dns("*.wild.test"),
            uri("sip:SIP.a.test"),
            uri("sip:alice@users.a.test"),
            uri("https://web.a.test/"),
            uri("sip:ported.a.test:5061;transport=tls"),
            SanType::IpAddress("192.0.2.7".parse().unwrap()),
            SanType::IpAddress("2001:db8::7".parse().unwrap()),
        ]));
        assert_eq!(
            names.domains,
            ["proxy.a.test", "*.wild.test", "sip.a.test", "ported.a.test"]
        );
        // Names without case or trailing dot (RFC 5922 §7.2).
        assert!(names.names(&host("proxy.a.test")));
        assert!(names.names(&host("PROXY.a.test.")));
        assert!(names.names(&host("sip.a.test")));
        assert!(names.names(&host("ported.a.test")));
        // No wildcard matching, no suffix matching (RFC 5922 §7.2).
        assert!(!names.names(&host("x.wild.test")));
        assert!(!names.names(&host("a.test")));
        assert!(!names.names(&host("other.proxy.a.test")));
        // A SIP URI with a user part and other schemes are no domain identities (§7.1).
        assert!(!names.names(&host("users.a.test")));
        assert!(!names.names(&host("web.a.test")));
        // Addresses only by an iPAddress entry.
        assert!(names.names(&host("192.0.2.7")));
        assert!(names.names(&host("[2001:db8::7]")));
        assert!(!names.names(&host("192.0.2.8")));
        assert_eq!(
            names.to_string(),
            "proxy.a.test,*.wild.test,sip.a.test,ported.a.test,192.0.2.7,2001:db8::7"
        );
        assert_eq!(
            CertNames::of_der(b"not a certificate"),
            CertNames::default()
        );
        assert_eq!(
            sip_uri_domain("SIP:[2001:db8::1]:5061").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(sip_uri_domain("sips:a.test"), None);
        assert_eq!(sip_uri_domain("sip:"), None);
    }

    #[tokio::test]
    async fn sip_listeners_ask_for_a_client_certificate_and_websocket_ones_do_not() {
        let now = SystemTime::now();
        let (server_dir, client_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (server_id, _) = Identity::self_signed(server_dir.path(), &names(), now).unwrap();
        let (client_id, _) =
            Identity::self_signed(client_dir.path(), &["peer.test".into()], now).unwrap();
        let server = Tls::new(
            server_id,
            &Trust::Verify {
                extra_ca: vec![client_dir.path().join("cert.pem")],
            },
        )
        .unwrap();
        let client = Tls::new(client_id, &Trust::Any).unwrap();
        for websocket in [false, true] {
            let (near, far) = tokio::io::duplex(64 * 1024);
            let acceptor = if websocket {
                server.websocket_acceptor()
            } else {
                server.acceptor()
            };
            let name = ServerName::try_from("example.com").unwrap();
            let (accepted, _connected) =
                tokio::join!(acceptor.accept(near), client.lax.connect(name, far));
            let accepted = accepted.unwrap();
            let chain = accepted.get_ref().1.peer_certificates();
            let identity = server.client_identity(chain, now);
            if websocket {
                assert_eq!(identity, ClientIdentity::Anonymous);
            } else {
                assert!(
                    matches!(&identity, ClientIdentity::Verified(n) if n.domains == ["peer.test"]),
                    "{identity:?}"
                );
            }
        }
    }

    #[test]
    fn a_client_certificate_is_verified_against_the_trust() {
        let now = SystemTime::now();
        let (ours_dir, peer_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let (ours, _) = Identity::self_signed(ours_dir.path(), &names(), now).unwrap();
        let peer_names = vec!["peer.test".to_owned(), "192.0.2.1".to_owned()];
        let (peer, _) = Identity::self_signed(peer_dir.path(), &peer_names, now).unwrap();
        let chain = peer.key.cert.clone();

        let trusting = Tls::new(
            ours.clone(),
            &Trust::Verify {
                extra_ca: vec![peer_dir.path().join("cert.pem")],
            },
        )
        .unwrap();
        assert_eq!(
            trusting.client_identity(None, now),
            ClientIdentity::Anonymous
        );
        let ClientIdentity::Verified(names) = trusting.client_identity(Some(&chain), now) else {
            panic!("not verified");
        };
        assert_eq!(names.domains, ["peer.test"]);
        assert!(names.names(&host("192.0.2.1")));

        // Not issued by a trusted CA: unverified, with the reason.
        let strict = Tls::new(ours.clone(), &Trust::default()).unwrap();
        assert!(matches!(
            strict.client_identity(Some(&chain), now),
            ClientIdentity::Unverified(why) if why.contains("certificate")
        ));
        // Trust::Any verifies nothing, so it proves nothing.
        let any = Tls::new(ours, &Trust::Any).unwrap();
        assert!(matches!(
            any.client_identity(Some(&chain), now),
            ClientIdentity::Unverified(_)
        ));
    }

    #[test]
    fn a_first_run_makes_a_certificate_and_the_next_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let (first, made) = Identity::self_signed(dir.path(), &names(), now).unwrap();
        assert!(made);
        assert_eq!(first.names(), &["example.com", "127.0.0.1"]);
        let (again, made) = Identity::self_signed(dir.path(), &names(), now).unwrap();
        assert!(!made);
        assert_eq!(again.key.cert, first.key.cert);
        // Another domain served: a new one naming it.
        let more = vec!["example.org".to_owned()];
        let (other, made) = Identity::self_signed(dir.path(), &more, now).unwrap();
        assert!(made);
        assert_eq!(other.names(), &["example.org"]);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("key.pem"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key is readable by others: {mode:o}");
    }

    #[test]
    fn the_errors_name_the_file_and_the_fault() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        Identity::self_signed(&a, &names(), now).unwrap();
        Identity::self_signed(&b, &names(), now).unwrap();
        let (cert, key) = (a.join("cert.pem"), a.join("key.pem"));

        let mismatch = Identity::from_pem_files(&cert, &b.join("key.pem"), now).unwrap_err();
        assert!(
            matches!(mismatch, TlsError::KeyMismatch { .. }),
            "{mismatch}"
        );
        assert!(mismatch.to_string().contains("does not belong"));

        let missing = Identity::from_pem_files(&dir.path().join("nope.pem"), &key, now);
        assert!(
            matches!(missing, Err(TlsError::Read { ref path, .. }) if path.ends_with("nope.pem"))
        );

        // The files swapped: no certificate in the key file.
        let swapped = Identity::from_pem_files(&key, &cert, now).unwrap_err();
        assert!(
            matches!(swapped, TlsError::NoCertificate { .. }),
            "{swapped}"
        );

        let garbage = dir.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let bad = Identity::from_pem_files(&garbage, &key, now).unwrap_err();
        assert!(
            bad.to_string().starts_with(&garbage.display().to_string()),
            "{bad}"
        );

        // rcgen's default validity ends in 4096; a clock past it sees it expired.
        let far = UNIX_EPOCH + Duration::from_secs(70_000_000_000);
        let expired = Identity::from_pem_files(&cert, &key, far).unwrap_err();
        assert!(matches!(expired, TlsError::Expired { .. }), "{expired}");
        assert!(expired.to_string().contains("expired on"), "{expired}");
    }
}
