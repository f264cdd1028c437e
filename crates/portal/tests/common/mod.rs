//! The portal on a loopback port over a SQLite store in a temporary directory, with a
//! domain, two subscribers (alice, bob) with web passwords, an admin, and a token each.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)] // each test binary uses a part

use std::net::SocketAddr;
use std::path::PathBuf;

use store::{flags, Binding, Store};

/// The served domain.
pub const DOMAIN: &str = "example.com";
/// Every test subscriber's password (SIP and web).
pub const PASSWORD: &str = "s3cret-pw";

/// A running portal.
pub struct Portal {
    pub addr: SocketAddr,
    pub store: Store,
    pub admin_token: String,
    pub alice_token: String,
    pub bob_token: String,
    pub client: reqwest::Client,
    /// Where the recordings are (`DATA_DIR/voicemail`).
    pub voicemail_dir: PathBuf,
    /// The media service's dialer (click-to-dial) the portal was handed.
    pub dialer: std::sync::Arc<FakeDialer>,
    _dir: tempfile::TempDir,
}

impl Portal {
    /// Starts one on the current runtime.
    pub async fn start() -> Portal {
        Portal::start_with_mail(None).await
    }

    /// Starts one that sends e-mail with `mail`.
    pub async fn start_with_mail(mail: Option<portal::PortalMail>) -> Portal {
        Portal::start_full(mail, None).await
    }

    /// Starts one beside a SIP server that ends calls with `control`.
    pub async fn start_with_calls(control: portal::api::live_calls::SharedCallControl) -> Portal {
        Portal::start_full(None, Some(control)).await
    }

    /// Starts one that sends e-mail with `mail` and ends calls with `control`.
    pub async fn start_full(
        mail: Option<portal::PortalMail>,
        control: Option<portal::api::live_calls::SharedCallControl>,
    ) -> Portal {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/itsp.db?mode=rwc", dir.path().display());
        let store = Store::open(&url).await.unwrap();
        store.add_domain(DOMAIN).await.unwrap();
        for user in ["alice", "bob", "admin"] {
            store
                .add_subscriber(user, DOMAIN, PASSWORD, None)
                .await
                .unwrap();
            store
                .set_web_password(user, DOMAIN, PASSWORD)
                .await
                .unwrap();
        }
        store.set_admin("admin", DOMAIN, true).await.unwrap();
        let alice = store::Address::new("alice", DOMAIN).unwrap();
        let bob = store::Address::new("bob", DOMAIN).unwrap();
        let (_, admin_token) = store.create_api_token("tests", None).await.unwrap();
        let (_, alice_token) = store.create_api_token("alice", Some(&alice)).await.unwrap();
        let (_, bob_token) = store.create_api_token("bob", Some(&bob)).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let voicemail_dir = dir.path().join("voicemail");
        let config = portal::PortalConfig {
            voicemail_dir: Some(voicemail_dir.clone()),
            ..portal::PortalConfig::default()
        };
        let state = portal::AppState::with_mail(store.clone(), config, mail);
        if let Some(control) = control {
            state.set_call_control(control);
        }
        let dialer = std::sync::Arc::new(FakeDialer::default());
        state.set_dialer(dialer.clone());
        tokio::spawn(portal::serve(listener, state, std::future::pending()));
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Portal {
            addr,
            store,
            admin_token,
            alice_token,
            bob_token,
            client,
            voicemail_dir,
            dialer,
            _dir: dir,
        }
    }

    /// The URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request with `token` (none: anonymous) and a JSON body when given.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, String, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let text = resp.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (status, content_type, json)
    }

    /// Logs in through the form; the session cookie (`itsp_session=...`).
    pub async fn login_cookie(&self, user: &str) -> String {
        let resp = self
            .client
            .post(self.url("/login"))
            .form(&[
                ("address", format!("{user}@{DOMAIN}")),
                ("password", PASSWORD.to_owned()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 303, "login of {user}");
        let cookie = resp.headers().get("set-cookie").unwrap().to_str().unwrap();
        cookie.split(';').next().unwrap().to_owned()
    }

    /// A page of a form for visitors without a session (`/password/...`): its status, the
    /// form-token cookie (`itsp_form=...`) it sets, and its HTML.
    pub async fn visitor_form(&self, path: &str) -> (u16, String, String) {
        let resp = self.client.get(self.url(path)).send().await.unwrap();
        let status = resp.status().as_u16();
        let cookie = resp
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .unwrap_or_default();
        (status, cookie, resp.text().await.unwrap())
    }

    /// A page fetched with `cookie`: status and HTML.
    pub async fn page(&self, path: &str, cookie: &str) -> (u16, String) {
        let resp = self
            .client
            .get(self.url(path))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.text().await.unwrap())
    }

    /// A form posted with `cookie`: status, Location and HTML.
    pub async fn post_form(
        &self,
        path: &str,
        cookie: &str,
        fields: &[(&str, &str)],
    ) -> (u16, String, String) {
        let resp = self
            .client
            .post(self.url(path))
            .header("cookie", cookie)
            .form(fields)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let location = resp
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, resp.text().await.unwrap())
    }

    /// Leaves a voicemail message from `from` in the mailbox of `user`, with a small WAV
    /// file (a second of 8 kHz silence) where the media service would write it; its id.
    pub async fn add_voicemail(&self, user: &str, from: &str, created_ms: i64) -> i64 {
        let name = format!("{DOMAIN}/{user}/msg-{created_ms}.wav");
        let path = self.voicemail_dir.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, wav(8000)).unwrap();
        self.store
            .add_voicemail(
                user,
                DOMAIN,
                &store::NewVoicemail {
                    caller: from,
                    created_ms,
                    duration_ms: 1000,
                    file: &name,
                },
            )
            .await
            .unwrap()
    }

    /// Registers a device of `user` in the store, as the registrar would.
    pub async fn register(&self, user: &str, contact: &str, nat: bool, user_agent: &str) {
        let now = portal::time::unix_now();
        let b = Binding {
            aor: format!("{user}@{DOMAIN}"),
            contact: contact.to_owned(),
            expires_at: now + 3600,
            q: 1000,
            call_id: format!("call-{contact}"),
            cseq: 1,
            user_agent: user_agent.to_owned(),
            received: "203.0.113.7:40000".to_owned(),
            transport: "udp".to_owned(),
            local_socket: "udp:127.0.0.1:5060".to_owned(),
            path: None,
            instance: None,
            reg_id: None,
            flags: if nat { flags::NAT } else { 0 },
            updated_at: now,
        };
        self.store.upsert_binding(&b).await.unwrap();
    }
}

/// A native tariff: Sweden by the minute, Stockholm 30/6 with a connect fee.
pub const TARIFF: &str = "prefix,description,connect_fee,rate_per_min,initial,increment\n\
                          46,Sweden,0,0.10,60,60\n468,Stockholm,0.05,0.05,30,6\n";

impl Portal {
    /// Stores [`TARIFF`] as plan `default` in EUR, as `itsp rate import` would.
    pub async fn import_default_plan(&self) {
        let file = store::TariffFile {
            set_key: "default".into(),
            format: store::TariffFormat::Native,
            name: "rates.csv".into(),
            content: TARIFF.into(),
            currency: "EUR".into(),
            utc_offset: 0,
            imported_ms: 1_790_000_000_000,
        };
        self.store
            .replace_tariff_set("default", &[file])
            .await
            .unwrap();
    }

    /// Issues an invoice of `user` for month `series` (`2026-11`) with one line of
    /// `amount` EUR and 25 % tax; its number.
    pub async fn issue_invoice(&self, user: &str, series: &str, start_ms: i64) -> String {
        let d = |t: &str| t.parse::<billing::Decimal>().unwrap();
        let amount = d("1.20");
        let new = store::NewInvoice {
            address: store::Address::new(user, DOMAIN).unwrap(),
            series: series.into(),
            period_start_ms: start_ms,
            period_end_ms: start_ms + 86_400_000,
            currency: "EUR".into(),
            lines: vec![store::InvoiceLine {
                destination: "Sweden (+46)".into(),
                prefix: "46".into(),
                calls: 2,
                seconds: 720,
                amount,
            }],
            subtotal: amount,
            tax_rate: d("0.25"),
            tax: d("0.30"),
            total: d("1.50"),
            issued_ms: start_ms + 90_000_000,
        };
        let issued = self
            .store
            .issue_invoice(&new, |i, _| store::InvoiceDocuments {
                html: format!(
                    "<!doctype html><title>Invoice {}</title><h1>Invoice {}</h1>",
                    i.number, i.number
                ),
                pdf: format!("%PDF-1.4\n% invoice {}\n%%EOF\n", i.number).into_bytes(),
            })
            .await
            .unwrap();
        issued.number
    }

    /// Records a call in progress from `from` to `to` (answered when `answered`), as the
    /// proxy's accounting does.
    pub async fn add_live_call(&self, call_id: &str, from: &str, to: &str, answered: bool) {
        let now = portal::time::unix_now() * 1000;
        let call = store::Call {
            call_id: call_id.into(),
            from_tag: "ft".into(),
            to_tag: answered.then(|| "tt".into()),
            state: if answered {
                store::CallState::Confirmed
            } else {
                store::CallState::Early
            },
            caller: format!("sip:{from}@{DOMAIN}"),
            callee: format!("sip:{to}@{DOMAIN}"),
            source_ip: Some("192.0.2.7".into()),
            started_ms: now - 65_000,
            answered_ms: answered.then_some(now - 60_000),
            node: "node1".into(),
        };
        self.store
            .write_calls(&[store::CallWrite::Upsert(call)])
            .await
            .unwrap();
    }
}

/// A SIP server's call control for tests: ends the calls it was told of, remembers what
/// it ended.
#[derive(Default)]
pub struct FakeCalls {
    /// The answered calls it has.
    pub answered: std::sync::Mutex<Vec<String>>,
    /// What it ended.
    pub ended: std::sync::Mutex<Vec<String>>,
}

impl portal::api::live_calls::CallControl for FakeCalls {
    fn hang_up(&self, call_id: &str) -> bool {
        let mut answered = self.answered.lock().unwrap();
        match answered.iter().position(|c| c == call_id) {
            Some(i) => {
                answered.remove(i);
                self.ended.lock().unwrap().push(call_id.to_owned());
                true
            }
            None => false,
        }
    }

    fn media<'a>(&'a self, call_id: &'a str) -> portal::api::live_calls::MediaFuture<'a> {
        let known = self.answered.lock().unwrap().iter().any(|c| c == call_id);
        Box::pin(std::future::ready(known.then_some({
            portal::api::live_calls::MediaView {
                rtp_packets: 3000,
                rtp_bytes: 516_000,
                rtcp_packets: 12,
                lost: 3,
            }
        })))
    }
}

/// A media service's dialer for tests: remembers each click-to-dial asked (caller,
/// target URI, display), or says the service is off.
#[derive(Default)]
pub struct FakeDialer {
    /// What was asked.
    pub dialled: std::sync::Mutex<Vec<(String, String, String)>>,
    /// Answer as a media service that is off.
    pub off: std::sync::atomic::AtomicBool,
    /// Answer as a media service with too many of the caller's calls under way.
    pub busy: std::sync::atomic::AtomicBool,
}

impl portal::api::click_to_dial::Dialer for FakeDialer {
    fn dial<'a>(
        &'a self,
        caller: &'a store::Address,
        target: &'a str,
        display: &'a str,
    ) -> portal::api::click_to_dial::DialFuture<'a> {
        use portal::api::click_to_dial::{DialFailure, Dialled};
        if self.off.load(std::sync::atomic::Ordering::Relaxed) {
            return Box::pin(std::future::ready(Err(DialFailure::Unavailable(
                "the media service is off".into(),
            ))));
        }
        if self.busy.load(std::sync::atomic::Ordering::Relaxed) {
            return Box::pin(std::future::ready(Err(DialFailure::Busy(
                "too many click-to-dial calls under way".into(),
            ))));
        }
        let mut dialled = self.dialled.lock().unwrap();
        dialled.push((caller.aor(), target.to_owned(), display.to_owned()));
        let n = dialled.len();
        Box::pin(std::future::ready(Ok(Dialled {
            call_id: format!("c2d-b-{n}"),
            caller_call_id: format!("c2d-a-{n}"),
        })))
    }
}

/// The form token in a page's HTML.
pub fn csrf_of(html: &str) -> String {
    let marker = r#"name="csrf" value=""#;
    let start = html.find(marker).expect("a form token in the page") + marker.len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_owned()
}

/// A call record from `from` to `to` at `start_ms`, answered unless `disposition` says
/// how it failed.
pub fn call_record(
    call_id: &str,
    from: &str,
    to: &str,
    start_ms: i64,
    disposition: Option<store::Disposition>,
) -> store::Cdr {
    let answered = disposition.is_none();
    store::Cdr {
        call_id: call_id.into(),
        from_tag: "f".into(),
        to_tag: Some("t".into()),
        caller_user: Some(from.into()),
        caller_domain: Some(DOMAIN.into()),
        caller_uri: format!("sip:{from}@{DOMAIN}"),
        source_ip: Some("192.0.2.7".into()),
        dialled_uri: format!("sip:{to}@{DOMAIN}"),
        callee_user: Some(to.into()),
        callee_domain: Some(DOMAIN.into()),
        answered_by: None,
        start_ms,
        answer_ms: answered.then_some(start_ms + 1_000),
        end_ms: start_ms + 61_000,
        disposition: disposition.unwrap_or(store::Disposition::Answered),
        code: if answered { 200 } else { 486 },
        reason: None,
        hung_up_by: Some(store::HungUpBy::Caller),
        end_reason: None,
        node: "n".into(),
        charge: None,
        media: None,
    }
}

/// A WAV file of `samples` silent 16-bit samples at 8 kHz, mono.
pub fn wav(samples: u32) -> Vec<u8> {
    let data = samples * 2;
    let mut out = Vec::with_capacity(44 + data as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&8000u32.to_le_bytes());
    out.extend_from_slice(&16000u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    out.resize(44 + data as usize, 0);
    out
}

/// A 16-bit PCM WAV file of a `freq` Hz tone, `ms` long, at `rate` Hz in `channels`
/// channels (each the same).
pub fn tone_wav(rate: u32, channels: u16, ms: u32, freq: f64) -> Vec<u8> {
    let frames = u64::from(rate) * u64::from(ms) / 1000;
    let data = u32::try_from(frames * u64::from(channels) * 2).unwrap();
    let mut out = Vec::with_capacity(44 + data as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(channels) * 2).to_le_bytes());
    out.extend_from_slice(&(channels * 2).to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for i in 0..frames {
        let t = i as f64 / f64::from(rate);
        let v = ((t * freq * std::f64::consts::TAU).sin() * 8000.0) as i16;
        for _ in 0..channels {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// The boundary of [`multipart`] bodies.
pub const BOUNDARY: &str = "itsp-test-boundary-7d3f";

/// A `multipart/form-data` body (boundary [`BOUNDARY`]) of `parts`: (name, file name of
/// a file part, content).
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, file, content) in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => out.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: audio/wav\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => out.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        out.extend_from_slice(content);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

impl Portal {
    /// A request with a raw body of `content_type`, with `token` (bearer) or `cookie`:
    /// status, Content-Type, body bytes.
    pub async fn send_bytes(
        &self,
        method: &str,
        path: &str,
        auth: (Option<&str>, Option<&str>),
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, String, Vec<u8>) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, self.url(path))
            .header("content-type", content_type)
            .body(body);
        if let Some(t) = auth.0 {
            req = req.bearer_auth(t);
        }
        if let Some(c) = auth.1 {
            req = req.header("cookie", c);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ct, resp.bytes().await.unwrap().to_vec())
    }
}

/// A mailer whose SMTP server is not there: e-mail is "on" and sends are queued (and fail
/// later, in the background), which is all the forgotten-password and sign-up pages see.
pub fn unreachable_mail() -> portal::PortalMail {
    let mut smtp = mail::SmtpConfig::new("127.0.0.1:9", "itsp@example.com").unwrap();
    smtp.security = mail::Security::Plain;
    smtp.retries = 0;
    let templates = mail::Templates::built_in();
    portal::PortalMail {
        mailer: mail::Mailer::start(smtp).unwrap(),
        password_reset: templates.password_reset,
        signup: templates.signup,
    }
}
