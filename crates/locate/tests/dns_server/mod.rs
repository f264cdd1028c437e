//! A small authoritative DNS server for the tests: one in-memory zone, served over UDP and
//! TCP on 127.0.0.1 at a random port, recording every question it is asked.
//!
//! It speaks the real wire protocol (hickory-proto's encoder and decoder, as re-exported by
//! hickory-resolver), so the resolver under test goes through its normal network path.
#![allow(unreachable_pub)] // a module of the test binary, `pub` for the tests beside it

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use hickory_resolver::proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::{A, AAAA, NAPTR, SOA, SRV};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

/// The records the server answers with. Names are absolute (a trailing dot is added).
#[derive(Default, Clone)]
pub struct Zone {
    records: Vec<Record>,
    /// Names answered with SERVFAIL whatever the question.
    failing: Vec<Name>,
}

fn name(s: &str) -> Name {
    let fqdn = if s.ends_with('.') {
        s.to_owned()
    } else {
        format!("{s}.")
    };
    Name::from_str(&fqdn).unwrap()
}

/// The TTL of every record: long enough that a test never sees one expire unless it asks.
const TTL: u32 = 300;

impl Zone {
    pub fn new() -> Zone {
        Zone::default()
    }

    fn add(mut self, owner: &str, ttl: u32, rdata: RData) -> Zone {
        self.records
            .push(Record::from_rdata(name(owner), ttl, rdata));
        self
    }

    pub fn naptr(self, owner: &str, order: u16, pref: u16, services: &str, to: &str) -> Zone {
        let rdata = NAPTR::new(
            order,
            pref,
            b"S".to_vec().into_boxed_slice(),
            services.as_bytes().to_vec().into_boxed_slice(),
            Box::new([]),
            name(to),
        );
        self.add(owner, TTL, RData::NAPTR(rdata))
    }

    pub fn srv(self, owner: &str, priority: u16, weight: u16, port: u16, target: &str) -> Zone {
        let rdata = SRV::new(priority, weight, port, name(target));
        self.add(owner, TTL, RData::SRV(rdata))
    }

    pub fn a(self, owner: &str, ip: &str) -> Zone {
        self.a_ttl(owner, ip, TTL)
    }

    pub fn a_ttl(self, owner: &str, ip: &str, ttl: u32) -> Zone {
        let ip: Ipv4Addr = ip.parse().unwrap();
        self.add(owner, ttl, RData::A(A(ip)))
    }

    /// Every question about `owner` gets SERVFAIL, as from a broken authoritative server.
    pub fn servfail(mut self, owner: &str) -> Zone {
        self.failing.push(name(owner));
        self
    }

    pub fn aaaa(self, owner: &str, ip: &str) -> Zone {
        let ip: Ipv6Addr = ip.parse().unwrap();
        self.add(owner, TTL, RData::AAAA(AAAA(ip)))
    }

    /// The answer to one query: NXDOMAIN when no record has that owner, else the records of
    /// that type (possibly none: NODATA). Negative answers carry an SOA in the authority
    /// section, as an authoritative server's do, so resolvers may cache them (RFC 2308 §5).
    fn answer(&self, query: &Message) -> Message {
        let mut response = Message::new();
        response
            .set_id(query.id())
            .set_message_type(MessageType::Response)
            .set_op_code(OpCode::Query)
            .set_authoritative(true)
            .set_recursion_desired(query.recursion_desired())
            .set_recursion_available(true);
        let Some(question) = query.queries().first() else {
            response.set_response_code(ResponseCode::FormErr);
            return response;
        };
        response.add_query(question.clone());
        if self.failing.contains(question.name()) {
            response.set_response_code(ResponseCode::ServFail);
            return response;
        }
        let owned: Vec<&Record> = self
            .records
            .iter()
            .filter(|r| r.name() == question.name())
            .collect();
        if owned.is_empty() {
            response.set_response_code(ResponseCode::NXDomain);
        }
        for record in owned {
            if record.record_type() == question.query_type() {
                response.add_answer(record.clone());
            }
        }
        if response.answers().is_empty() {
            let soa = SOA::new(
                name("ns.test"),
                name("admin.test"),
                1,
                3600,
                600,
                86400,
                TTL,
            );
            response.add_name_server(Record::from_rdata(Name::root(), TTL, RData::SOA(soa)));
        }
        response
    }
}

/// One question the server was asked: the name (lower case, no trailing dot) and the type.
pub type Question = (String, RecordType);

/// A running server; stops when dropped.
pub struct DnsServer {
    pub addr: SocketAddr,
    questions: Arc<Mutex<Vec<Question>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl DnsServer {
    /// Serves `zone` on 127.0.0.1, UDP and TCP on the same random port.
    pub async fn start(zone: Zone) -> DnsServer {
        // A UDP port whose TCP twin is free too; retry on the rare clash.
        let (udp, tcp) = loop {
            let udp = UdpSocket::bind((IpAddr::from(Ipv4Addr::LOCALHOST), 0))
                .await
                .unwrap();
            if let Ok(tcp) = TcpListener::bind(udp.local_addr().unwrap()).await {
                break (udp, tcp);
            }
        };
        let addr = udp.local_addr().unwrap();
        let questions = Arc::new(Mutex::new(Vec::new()));
        let zone = Arc::new(zone);
        let udp_task = tokio::spawn(serve_udp(udp, zone.clone(), questions.clone()));
        let tcp_task = tokio::spawn(serve_tcp(tcp, zone, questions.clone()));
        DnsServer {
            addr,
            questions,
            tasks: vec![udp_task, tcp_task],
        }
    }

    /// Every question asked so far, in arrival order.
    pub fn questions(&self) -> Vec<Question> {
        self.questions.lock().unwrap().clone()
    }

    /// Fails the test if a question of that type was asked about any name.
    pub fn assert_never_asked(&self, rtype: RecordType) {
        let questions = self.questions();
        assert!(
            questions.iter().all(|(_, t)| *t != rtype),
            "{rtype} asked: {questions:?}"
        );
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Decodes a query, records its question and encodes the answer.
fn respond(zone: &Zone, questions: &Mutex<Vec<Question>>, bytes: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(bytes).ok()?;
    if let Some(q) = query.queries().first() {
        let name = q
            .name()
            .to_ascii()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        questions.lock().unwrap().push((name, q.query_type()));
    }
    zone.answer(&query).to_vec().ok()
}

async fn serve_udp(socket: UdpSocket, zone: Arc<Zone>, questions: Arc<Mutex<Vec<Question>>>) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
            return;
        };
        if let Some(answer) = respond(&zone, &questions, &buf[..n]) {
            let _ = socket.send_to(&answer, peer).await;
        }
    }
}

async fn serve_tcp(listener: TcpListener, zone: Arc<Zone>, questions: Arc<Mutex<Vec<Question>>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        tokio::spawn(serve_tcp_connection(
            stream,
            zone.clone(),
            questions.clone(),
        ));
    }
}

/// RFC 1035 §4.2.2: each message is preceded by its two-byte length.
async fn serve_tcp_connection(
    mut stream: TcpStream,
    zone: Arc<Zone>,
    questions: Arc<Mutex<Vec<Question>>>,
) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut buf = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut buf).await.is_err() {
            return;
        }
        let Some(answer) = respond(&zone, &questions, &buf) else {
            return;
        };
        let Ok(len) = u16::try_from(answer.len()) else {
            return;
        };
        if stream.write_u16(len).await.is_err() || stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}
