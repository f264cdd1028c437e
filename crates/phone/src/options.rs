//! The phone's settings: command-line flags (`itsp phone --help`) and the optional profile
//! file they override (`--profile FILE`, TOML with the same names), so a phone on a USB
//! stick carries its account in one file beside the binary and nothing else.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What `itsp phone` does.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum PhoneCommand {
    /// Register and stay registered (refreshing before expiry) until Ctrl-C; answer or
    /// reject incoming calls as --answer-after / --reject say (default: busy, 486).
    Register,
    /// Call TARGET: a user (`alice`), a number (`+4684567890`), or a full URI
    /// (`sip:alice@example.com`). Hangs up after --duration seconds, on Ctrl-C, or when
    /// the other side does.
    Call {
        /// Who to call.
        target: String,
    },
    /// Register and wait for calls; answer each after --answer-after seconds (default 0),
    /// or reject with --reject CODE. `listen` is the same command.
    #[command(alias = "listen")]
    Answer,
    /// Send a SIP MESSAGE (RFC 3428) with TEXT to TARGET and wait for its answer.
    Message {
        /// Who to send to (user, number or URI).
        target: String,
        /// The text.
        text: String,
    },
}

/// `itsp phone [FLAGS] COMMAND`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_help = "Examples:
  itsp phone --user bob --password PASSWD --server 192.0.2.1 call alice
  itsp phone --user alice --password s3cret --server example.com answer --record in.wav
  itsp phone --profile stick/phone.toml call +4684567890 --play hello.wav --duration 30
  itsp phone --user bob --password PASSWD --server example.com message alice 'lunch?'
  itsp phone --user alice --password s3cret --server example.com --srtp offer call bob

During a call, type: hold | resume | dtmf 123# | transfer TARGET | message TARGET TEXT | hangup")]
pub struct PhoneArgs {
    /// The settings.
    #[command(flatten)]
    pub flags: PhoneFlags,
    /// What to do.
    #[command(subcommand)]
    pub command: PhoneCommand,
}

/// How DTMF digits are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    /// RTP telephone-event packets (RFC 4733).
    #[default]
    Rfc4733,
    /// SIP INFO with `application/dtmf-relay`.
    Info,
}

/// SDES-SRTP (RFC 4568, RFC 3711): whether calls encrypt their media; `require` is
/// baresip's `mediaenc=srtp-mand`, `offer` offers the same and also answers plain RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SrtpMode {
    /// Plain RTP: offer RTP/AVP; an RTP/SAVP offer is refused (488), `a=crypto` on an
    /// RTP/AVP offer ignored.
    #[default]
    Off,
    /// Offer RTP/SAVP with AES_CM_128_HMAC_SHA1_80 and _32 keys; answer RTP/SAVP offers (and
    /// RTP/AVP ones with `a=crypto`) with SRTP, plain RTP/AVP offers with plain RTP.
    Offer,
    /// SRTP or nothing: offer RTP/SAVP, and refuse (488) incoming offers without a usable
    /// `a=crypto` line.
    Require,
}

/// The SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TransportChoice {
    /// UDP (default).
    #[default]
    Udp,
    /// TCP: one connection to the server.
    Tcp,
    /// TLS: one TCP connection to the server under TLS (default port 5061), the server's
    /// certificate checked for the domain (RFC 5922) against the system's CAs and
    /// `--tls-ca`.
    Tls,
}

/// Flags of `itsp phone`. Every flag may also be a key of the profile file (same name,
/// with `_` for `-`); flags win.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct PhoneFlags {
    /// Read settings from this TOML file (keys as the flags: user, password, server, ...).
    #[arg(long, value_name = "FILE", global = true)]
    pub profile: Option<PathBuf>,
    /// The user name (the user part of your address).
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// The password (or set ITSP_PHONE_PASSWORD).
    #[arg(
        long,
        env = "ITSP_PHONE_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub password: Option<String>,
    /// The SIP server: host, host:port, or a domain found by DNS SRV/NAPTR.
    #[arg(long, value_name = "HOST[:PORT]", global = true)]
    pub server: Option<String>,
    /// The domain of your address when it differs from the server's host.
    #[arg(long, global = true)]
    pub domain: Option<String>,
    /// Authentication user name when it differs from --user.
    #[arg(long, global = true)]
    pub auth_user: Option<String>,
    /// Display name shown to the people you call.
    #[arg(long, global = true)]
    pub display_name: Option<String>,
    /// Send every request to this proxy instead of the server.
    #[arg(long, value_name = "HOST[:PORT]", global = true)]
    pub outbound_proxy: Option<String>,
    /// SIP transport.
    #[arg(long, value_enum, global = true)]
    pub transport: Option<TransportChoice>,
    /// With --transport tls: also trust the certificates in this PEM file, e.g. the
    /// server's self-signed one (itsp serve keeps it in DATA_DIR/tls/cert.pem).
    #[arg(long, value_name = "FILE", global = true)]
    pub tls_ca: Option<PathBuf>,
    /// With --transport tls: accept any server certificate (encrypted, but the server is
    /// not authenticated).
    #[arg(long, global = true)]
    pub tls_insecure: bool,
    /// Local SIP port (default: any free port).
    #[arg(long, global = true)]
    pub sip_port: Option<u16>,
    /// Local RTP port, even (default: any free pair).
    #[arg(long, global = true)]
    pub rtp_port: Option<u16>,
    /// Registration lifetime to ask for, in seconds.
    #[arg(long, global = true)]
    pub expires: Option<u32>,
    /// Codecs in order of preference: pcmu, pcma, gsm.
    #[arg(long, value_delimiter = ',', global = true)]
    pub codecs: Option<Vec<String>>,
    /// Play this WAV file into the call (any rate, mono or stereo; resampled to 8 kHz).
    #[arg(long, value_name = "FILE", global = true, conflicts_with = "tone")]
    pub play: Option<PathBuf>,
    /// Play a sine tone of this frequency (Hz) into the call.
    #[arg(long, value_name = "HZ", global = true)]
    pub tone: Option<f32>,
    /// Record what you hear to this WAV file (8 kHz, 16-bit mono).
    #[arg(long, value_name = "FILE", global = true)]
    pub record: Option<PathBuf>,
    /// Hang up after this many seconds of conversation.
    #[arg(long, value_name = "SECONDS", global = true)]
    pub duration: Option<f64>,
    /// Send these DTMF digits (0-9 * # A-D) once the call is answered.
    #[arg(long, value_name = "DIGITS", global = true)]
    pub dtmf: Option<String>,
    /// How to send DTMF.
    #[arg(long, value_enum, global = true)]
    pub dtmf_mode: Option<DtmfMode>,
    /// Encrypt media with SDES-SRTP (RFC 4568): `off` plain RTP (refuses RTP/SAVP offers);
    /// `offer` offers RTP/SAVP (AES_CM_128_HMAC_SHA1_80, then _32) and takes SRTP or plain
    /// RTP offers as they come (baresip's optional `mediaenc=srtp`, RTP/AVP with
    /// `a=crypto`, gets SRTP); `require` takes SRTP only, refusing plain offers with 488
    /// (baresip's `mediaenc=srtp-mand`). The keys travel in the SDP: only as private as
    /// the signalling (use TLS). Example: `--srtp offer`.
    #[arg(long, value_enum, value_name = "off|offer|require", global = true)]
    pub srtp: Option<SrtpMode>,
    /// Answer incoming calls after this many seconds (answer/listen, register).
    #[arg(long, value_name = "SECONDS", global = true)]
    pub answer_after: Option<f64>,
    /// Reject incoming calls with this status code (e.g. 486 busy, 603 decline).
    #[arg(long, value_name = "CODE", global = true)]
    pub reject: Option<u16>,
    /// Find the public address with this STUN server (RFC 5389) and use it in Contact
    /// and SDP.
    #[arg(long, value_name = "HOST:PORT", global = true)]
    pub stun: Option<String>,
    /// Do not register before calling (the server must accept calls without it).
    #[arg(long, global = true)]
    pub no_register: bool,
    /// Stop after this many calls (answer/listen; default: run until Ctrl-C).
    #[arg(long, value_name = "N", global = true)]
    pub calls: Option<u32>,
    /// Print events and the final report as JSON lines.
    #[arg(long, global = true)]
    pub json: bool,
}

/// The profile file: the same settings as the flags.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    user: Option<String>,
    password: Option<String>,
    server: Option<String>,
    domain: Option<String>,
    auth_user: Option<String>,
    display_name: Option<String>,
    outbound_proxy: Option<String>,
    transport: Option<TransportChoice>,
    tls_ca: Option<PathBuf>,
    tls_insecure: Option<bool>,
    sip_port: Option<u16>,
    rtp_port: Option<u16>,
    expires: Option<u32>,
    codecs: Option<Vec<String>>,
    play: Option<PathBuf>,
    tone: Option<f32>,
    record: Option<PathBuf>,
    duration: Option<f64>,
    dtmf: Option<String>,
    dtmf_mode: Option<DtmfMode>,
    srtp: Option<SrtpMode>,
    answer_after: Option<f64>,
    reject: Option<u16>,
    stun: Option<String>,
    no_register: Option<bool>,
    calls: Option<u32>,
}

/// A setting that is missing or wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// The profile file could not be read.
    #[error("cannot read the profile {path}: {source}")]
    ProfileRead {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The profile file is not valid.
    #[error("bad profile {path}: {message}")]
    ProfileParse {
        /// The file.
        path: PathBuf,
        /// What is wrong (line, key).
        message: String,
    },
    /// A required setting is missing.
    #[error("missing --{0} (or `{1}` in the profile)")]
    Missing(&'static str, &'static str),
    /// A setting has a bad value.
    #[error("--{name}: {why}")]
    Invalid {
        /// The flag.
        name: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// The settings after flags and profile are merged and checked.
#[derive(Debug, Clone)]
pub struct Settings {
    /// User part of the address of record.
    pub user: String,
    /// Password (may be empty for servers that do not challenge).
    pub password: String,
    /// The server as given (host, host:port, or domain).
    pub server: String,
    /// The domain of our address.
    pub domain: String,
    /// Authentication user.
    pub auth_user: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Outbound proxy as given.
    pub outbound_proxy: Option<String>,
    /// Transport.
    pub transport: TransportChoice,
    /// Extra trusted certificates for TLS.
    pub tls_ca: Option<PathBuf>,
    /// Accept any TLS server certificate.
    pub tls_insecure: bool,
    /// Local SIP port (0: any).
    pub sip_port: u16,
    /// Local RTP port (0: any).
    pub rtp_port: u16,
    /// Registration lifetime.
    pub expires: u32,
    /// Codec names in preference order (lower case).
    pub codecs: Vec<String>,
    /// WAV to play.
    pub play: Option<PathBuf>,
    /// Tone to play.
    pub tone: Option<f32>,
    /// WAV to record.
    pub record: Option<PathBuf>,
    /// Hang up after this long (seconds).
    pub duration: Option<f64>,
    /// DTMF digits to send when answered.
    pub dtmf: Option<String>,
    /// DTMF method.
    pub dtmf_mode: DtmfMode,
    /// SDES-SRTP of the calls' media.
    pub srtp: SrtpMode,
    /// Seconds before answering an incoming call (`answer` defaults to 0; `register` and
    /// `call` refuse calls unless it is set).
    pub answer_after: Option<f64>,
    /// Status to reject incoming calls with.
    pub reject: Option<u16>,
    /// STUN server.
    pub stun: Option<String>,
    /// Skip registering before a call.
    pub no_register: bool,
    /// Stop after this many calls.
    pub calls: Option<u32>,
    /// JSON lines output.
    pub json: bool,
}

/// The codecs the phone speaks, by `--codecs` name.
pub const CODEC_NAMES: [&str; 3] = ["pcmu", "pcma", "gsm"];

impl PhoneFlags {
    /// Merges the profile (if any) under the flags and checks the result.
    pub fn settings(&self) -> Result<Settings, OptionsError> {
        let profile = match &self.profile {
            Some(path) => read_profile(path)?,
            None => Profile::default(),
        };
        let user = self
            .user
            .clone()
            .or(profile.user)
            .ok_or(OptionsError::Missing("user", "user"))?;
        let server = self
            .server
            .clone()
            .or(profile.server)
            .ok_or(OptionsError::Missing("server", "server"))?;
        let host = server_host(&server)?;
        let domain = self.domain.clone().or(profile.domain).unwrap_or(host);
        let dtmf = self.dtmf.clone().or(profile.dtmf);
        if let Some(d) = &dtmf {
            if let Some(bad) = d.chars().find(|c| rtp::event::digit_to_event(*c).is_err()) {
                return Err(OptionsError::Invalid {
                    name: "dtmf",
                    why: format!("{bad:?} is not a DTMF digit (0-9 * # A-D)"),
                });
            }
        }
        let codecs: Vec<String> = self
            .codecs
            .clone()
            .or(profile.codecs)
            .unwrap_or_else(|| CODEC_NAMES.iter().map(|s| (*s).to_owned()).collect())
            .into_iter()
            .map(|c| c.trim().to_ascii_lowercase())
            .collect();
        if codecs.is_empty() {
            return Err(OptionsError::Invalid {
                name: "codecs",
                why: "at least one codec is needed".into(),
            });
        }
        if let Some(bad) = codecs.iter().find(|c| !CODEC_NAMES.contains(&c.as_str())) {
            return Err(OptionsError::Invalid {
                name: "codecs",
                why: format!("unknown codec {bad:?} (known: pcmu, pcma, gsm)"),
            });
        }
        let reject = self.reject.or(profile.reject);
        if let Some(code) = reject {
            if !(300..700).contains(&code) {
                return Err(OptionsError::Invalid {
                    name: "reject",
                    why: format!("{code} is not a failure status (300-699)"),
                });
            }
        }
        let rtp_port = self.rtp_port.or(profile.rtp_port).unwrap_or(0);
        if rtp_port % 2 == 1 || rtp_port == u16::MAX {
            return Err(OptionsError::Invalid {
                name: "rtp-port",
                why: format!("{rtp_port} must be even (RTCP uses the next port)"),
            });
        }
        let seconds = |name: &'static str, v: Option<f64>| -> Result<Option<f64>, OptionsError> {
            match v {
                Some(s) if !(s.is_finite() && s >= 0.0) => Err(OptionsError::Invalid {
                    name,
                    why: format!("{s} is not a number of seconds"),
                }),
                other => Ok(other),
            }
        };
        let tone = self.tone.or(profile.tone);
        if let Some(hz) = tone {
            if !(hz.is_finite() && hz > 0.0 && hz < 4000.0) {
                return Err(OptionsError::Invalid {
                    name: "tone",
                    why: format!("{hz} Hz is outside 0-4000 Hz (8 kHz sampling)"),
                });
            }
        }
        let play = self.play.clone().or(profile.play);
        if play.is_some() && self.tone.is_some() {
            return Err(OptionsError::Invalid {
                name: "play",
                why: "choose --play or --tone, not both".into(),
            });
        }
        Ok(Settings {
            user,
            password: self
                .password
                .clone()
                .or(profile.password)
                .unwrap_or_default(),
            server,
            domain,
            auth_user: self.auth_user.clone().or(profile.auth_user),
            display_name: self.display_name.clone().or(profile.display_name),
            outbound_proxy: self.outbound_proxy.clone().or(profile.outbound_proxy),
            transport: self.transport.or(profile.transport).unwrap_or_default(),
            tls_ca: self.tls_ca.clone().or(profile.tls_ca),
            tls_insecure: self.tls_insecure || profile.tls_insecure.unwrap_or(false),
            sip_port: self.sip_port.or(profile.sip_port).unwrap_or(0),
            rtp_port,
            expires: self.expires.or(profile.expires).unwrap_or(3600).max(1),
            codecs,
            play: if tone.is_some() && self.play.is_none() {
                None
            } else {
                play
            },
            tone,
            record: self.record.clone().or(profile.record),
            duration: seconds("duration", self.duration.or(profile.duration))?,
            dtmf,
            dtmf_mode: self.dtmf_mode.or(profile.dtmf_mode).unwrap_or_default(),
            srtp: self.srtp.or(profile.srtp).unwrap_or_default(),
            answer_after: seconds("answer-after", self.answer_after.or(profile.answer_after))?,
            reject,
            stun: self.stun.clone().or(profile.stun),
            no_register: self.no_register || profile.no_register.unwrap_or(false),
            calls: self.calls.or(profile.calls),
            json: self.json,
        })
    }
}

fn read_profile(path: &Path) -> Result<Profile, OptionsError> {
    let text = std::fs::read_to_string(path).map_err(|source| OptionsError::ProfileRead {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| OptionsError::ProfileParse {
        path: path.to_owned(),
        message: e.to_string().trim_end().to_owned(),
    })
}

/// The host of `host`, `host:port` or `[v6]:port` (RFC 3261 §25.1 `hostport`, read by the
/// sip crate), IPv6 without brackets; a name that is not a host is refused.
pub fn server_host(server: &str) -> Result<String, OptionsError> {
    let (host, _port) =
        sip::headers::parse_host_port(server).map_err(|why| OptionsError::Invalid {
            name: "server",
            why: format!("{server:?} is not host[:port] ({why})"),
        })?;
    Ok(match host {
        sip::uri::Host::Name(name) => name.trim_end_matches('.').to_owned(),
        sip::uri::Host::V4(ip) => ip.to_string(),
        sip::uri::Host::V6(ip) => ip.to_string(),
    })
}

impl Settings {
    /// The URI to call for a `call` or `message` target: a full `sip:`/`sips:`/`tel:` URI
    /// as given, `user@host` as `sip:user@host`, anything else (user or number) at our
    /// domain.
    pub fn target_uri(&self, target: &str) -> String {
        let t = target.trim();
        let lower = t.to_ascii_lowercase();
        if lower.starts_with("sip:") || lower.starts_with("sips:") || lower.starts_with("tel:") {
            t.to_owned()
        } else if t.contains('@') {
            format!("sip:{t}")
        } else {
            format!("sip:{t}@{}", self.domain)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    fn flags() -> PhoneFlags {
        PhoneFlags {
            user: Some("bob".into()),
            password: Some("PASSWD".into()),
            server: Some("192.0.2.1".into()),
            ..PhoneFlags::default()
        }
    }

    #[test]
    fn the_seed_one_liner_is_enough() {
        let s = flags().settings().unwrap();
        assert_eq!(s.domain, "192.0.2.1");
        assert_eq!(s.codecs, ["pcmu", "pcma", "gsm"]);
        assert_eq!(s.target_uri("alice"), "sip:alice@192.0.2.1");
        assert_eq!(s.target_uri("+4684567890"), "sip:+4684567890@192.0.2.1");
        assert_eq!(s.target_uri("carol@example.org"), "sip:carol@example.org");
        assert_eq!(s.target_uri("tel:+46123"), "tel:+46123");
    }

    #[test]
    fn server_host_strips_ports() {
        assert_eq!(server_host("example.com:5070").unwrap(), "example.com");
        assert_eq!(server_host("[::1]:5060").unwrap(), "::1");
        assert_eq!(server_host("example.com").unwrap(), "example.com");
        assert!(server_host("exa mple:x").is_err());
    }

    #[test]
    fn profile_under_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("phone.toml");
        std::fs::write(
            &path,
            "user = \"alice\"\nserver = \"sip.example.com\"\ncodecs = [\"gsm\"]\n",
        )
        .unwrap();
        let f = PhoneFlags {
            profile: Some(path.clone()),
            user: Some("bob".into()),
            ..PhoneFlags::default()
        };
        let s = f.settings().unwrap();
        assert_eq!(s.user, "bob");
        assert_eq!(s.domain, "sip.example.com");
        assert_eq!(s.codecs, ["gsm"]);
        std::fs::write(&path, "usr = \"x\"\n").unwrap();
        let err = f.settings().unwrap_err().to_string();
        assert!(err.contains("unknown field `usr`"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let mut f = flags();
        f.dtmf = Some("12x".into());
        assert!(f.settings().unwrap_err().to_string().contains("--dtmf"));
        let mut f = flags();
        f.codecs = Some(vec!["opus".into()]);
        assert!(f.settings().unwrap_err().to_string().contains("opus"));
        let mut f = flags();
        f.reject = Some(200);
        assert!(f.settings().is_err());
        let mut f = flags();
        f.rtp_port = Some(4001);
        assert!(f.settings().is_err());
        let f = PhoneFlags::default();
        assert_eq!(
            f.settings().unwrap_err().to_string(),
            "missing --user (or `user` in the profile)"
        );
    }
}
