//! The media services' work per leg and per 20 ms tick (issue 19's benchmark), through the
//! service UA's public API only, without sockets: N calls are set up by SIP through a fake
//! proxy address (INVITE, 200 or 183, ACK), then each measured iteration is one tick —
//! one G.711 µ-law packet (160 bytes of a 700 Hz tone) into every leg
//! ([`ServiceUa::handle_rtp`]), [`ServiceUa::tick`], and every packet out drained
//! ([`ServiceUa::poll_rtp`]). Time per iteration / legs is the cost of one leg for 20 ms;
//! `20 ms / that` is how many legs one core carries (the UDP system calls come on top).
//! Each iteration's tick is timed alone (`iter_custom`), so a case can be set up anew,
//! untimed, when it has run long enough (`Case::renew`).
//!
//! Cases: `echo` (100 and 1,000 legs), `announce` (1,000 legs playing a ten-minute prompt
//! as early media), `voicemail` (1,000 deposits recording, past the greeting and beep),
//! `conference/N` (150 participants in rooms of N: 3, 10 or 50, once the join tones are
//! over), `conference/50 joined` (the same while each participant still hears the join
//! tones of the 49 who joined at once: two seconds after they did).
//!
//! Counting mode, for callgrind (instructions repeat where times on a shared machine do
//! not): with `MEDIA_BENCH_TICKS=N` the binary sets up the cases named by its arguments
//! (`echo/1000`, `conference/10`...; all without one), runs N ticks of each inside
//! `measured_ticks` and exits; `bench/media-instructions.sh` collects only that function.
//! In criterion mode criterion's own filter picks the cases; each is set up only when it
//! runs.
//!
//! Tail mode, for "no late packets": with `MEDIA_BENCH_TAIL=N` each case named (or all)
//! runs N ticks, each timed on the thread's CPU clock and on the wall clock, and a table
//! row gives the median, p99, p99.9 and slowest tick against the 20 ms budget (on a shared
//! machine the wall clock's tail is other processes holding the core).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout
)]

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput};
use media::prompts::{names, Origin};
use media::service::conference::RoomAccess;
use media::service::{Environment, Mailbox, ServiceConfig, ServiceEvent, ServiceUa};
use media::{Prompt, Prompts};
use rtp::audio::tone::Tone;
use rtp::codec::{Codec, FRAME_SAMPLES};
use sip::{HeaderName, Message};

const PROXY: &str = "127.0.0.1:5060";
const TICK: Duration = Duration::from_millis(20);
/// The announcement's prompt: long enough never to end during a run.
const LONG_PROMPT: &str = "bench-ten-minutes";

/// RTP ports from 20000 up; a one-frame personal greeting, so a deposit records at once
/// after the beep.
struct Env {
    next: u16,
}

impl Environment for Env {
    fn open_rtp(&mut self) -> Option<u16> {
        self.next = self.next.checked_add(2)?;
        Some(self.next)
    }
    fn greeting(&mut self, _mailbox: &Mailbox) -> Option<Prompt> {
        Some(Prompt::from_samples("own", vec![0i16; FRAME_SAMPLES]))
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Echo,
    Announce,
    Voicemail,
    /// Rooms of this many participants.
    Conference(usize),
}

struct Case {
    name: String,
    kind: Kind,
    legs: usize,
    /// Measure while the rooms' join tones still play (else after them).
    cues: bool,
}

impl Case {
    /// After how many ticks (the two seconds of warm-up included) criterion's runs set
    /// the case up anew. A deposit's recorder reserves 60 s of samples: past that every
    /// leg's buffer would grow in the same tick, a copy of a gigabyte no real mix of
    /// callers makes at once, so it is renewed after 50 s. The join tones play for the
    /// first seconds only: 150 ticks measure three seconds after the joins, as the
    /// counting mode's 50 ticks do. The rest stay far from the announcement's ten
    /// minutes and the calls' hour.
    fn renew(&self) -> u32 {
        match self.kind {
            _ if self.cues => 150,
            Kind::Voicemail => 2_500,
            _ => 25_000,
        }
    }
}

fn cases() -> Vec<Case> {
    let case = |name: &str, kind, legs| Case {
        name: name.to_owned(),
        kind,
        legs,
        cues: false,
    };
    vec![
        case("echo/100", Kind::Echo, 100),
        case("echo/1000", Kind::Echo, 1000),
        case("announce/1000", Kind::Announce, 1000),
        case("voicemail/1000", Kind::Voicemail, 1000),
        case("conference/3", Kind::Conference(3), 150),
        case("conference/10", Kind::Conference(10), 150),
        case("conference/50", Kind::Conference(50), 150),
        Case {
            cues: true,
            ..case("conference/50 joined", Kind::Conference(50), 150)
        },
    ]
}

/// One caller: our port, where its packets come from, its next packet.
struct Leg {
    port: u16,
    source: SocketAddr,
    packet: Vec<u8>,
}

/// A service UA with its calls set up.
struct Bed {
    ua: ServiceUa,
    now: Instant,
    ticks: u32,
    legs: Vec<Leg>,
}

fn config() -> ServiceConfig {
    let mut prompts = Prompts::built_in().unwrap();
    let mut tone = Tone::new(440.0, 6000.0, 8000);
    let mut samples = vec![0i16; 8000 * 600];
    tone.fill(&mut samples);
    prompts.insert(Prompt::from_samples(LONG_PROMPT, samples), Origin::BuiltIn);
    let mut config = ServiceConfig::new("127.0.0.1:5090".into(), [127, 0, 0, 1].into(), prompts);
    // A deposit records for the whole run instead of stopping after 3 minutes.
    config.recorder.max_length = Duration::from_secs(3600);
    config
}

fn uri(kind: Kind, i: usize) -> String {
    match kind {
        Kind::Echo => "sip:echo@example.com".into(),
        Kind::Announce => format!("sip:announce@example.com;prompt={LONG_PROMPT};code=480"),
        Kind::Voicemail => "sip:voicemail@example.com;mailbox=bob".into(),
        Kind::Conference(size) => format!("sip:conference@example.com;room=r{}", i / size),
    }
}

fn invite(uri: &str, i: usize, rtp_port: u16) -> String {
    let body = format!(
        "v=0\r\no=- {i} 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n\
         m=audio {rtp_port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
    );
    format!(
        "INVITE {uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxy{i}\r\n\
         Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKalice{i};received=192.0.2.10\r\n\
         Record-Route: <sip:127.0.0.1:5060;lr>\r\n\
         Max-Forwards: 69\r\n\
         From: <sip:alice@example.com>;tag=a{i}\r\n\
         To: <{uri}>\r\n\
         Call-ID: call-{i}@192.0.2.10\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:alice@192.0.2.10:5060>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The ACK of the 200 `answer` to INVITE number `i`, through the proxy.
fn ack(answer: &Message, i: usize) -> String {
    let to = answer.header(HeaderName::To).unwrap();
    let contact = sip::headers::NameAddr::parse(answer.header(HeaderName::Contact).unwrap())
        .unwrap()
        .uri
        .to_owned();
    format!(
        "ACK {contact} SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKproxyack{i}\r\n\
         Max-Forwards: 69\r\n\
         From: <sip:alice@example.com>;tag=a{i}\r\n\
         To: {to}\r\n\
         Call-ID: call-{i}@192.0.2.10\r\n\
         CSeq: 1 ACK\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// One 20 ms frame of a 700 Hz tone (14 whole periods, so it repeats seamlessly) in µ-law.
fn payload() -> Vec<u8> {
    let mut tone = Tone::new(700.0, 8000.0, 8000);
    let mut frame = [0i16; FRAME_SAMPLES];
    tone.fill(&mut frame);
    let mut payload = Vec::new();
    Codec::Pcmu.encoder().encode(&frame, &mut payload).unwrap();
    assert_eq!(payload.len(), 160);
    payload
}

impl Bed {
    fn new(case: &Case) -> Bed {
        let mut ua = ServiceUa::new(config(), 7);
        let mut env = Env { next: 20000 };
        let now = Instant::now();
        let proxy: SocketAddr = PROXY.parse().unwrap();
        let payload = payload();
        let mut legs = Vec::new();
        for i in 0..case.legs {
            let caller_port = 10000 + 2 * u16::try_from(i).unwrap();
            let text = invite(&uri(case.kind, i), i, caller_port);
            ua.handle(now, proxy, Bytes::from(text), &mut env);
            let mut port = None;
            let mut enters = None;
            while let Some(e) = ua.poll_event() {
                match e {
                    ServiceEvent::Started { rtp_port, .. } => port = Some(rtp_port),
                    ServiceEvent::RoomPin { call, .. } => enters = Some(call),
                    _ => {}
                }
            }
            // A room without a PIN: the caller joins at the next tick.
            if let Some(call) = enters {
                ua.room_pin(call, RoomAccess::Open);
            }
            let mut answered = None;
            while let Some(t) = ua.poll_transmit() {
                let m = Message::parse(t.payload).unwrap();
                match m.status() {
                    Some(200) => answered = Some(m),
                    Some(183) => {}
                    other => panic!("{}: INVITE {i} answered {other:?}", case.name),
                }
            }
            if let Some(answer) = answered {
                ua.handle(now, proxy, Bytes::from(ack(&answer, i)), &mut env);
            }
            // RTP header: version 2, PCMU, sequence and timestamp set per tick, SSRC i.
            let mut packet = vec![0x80, 0, 0, 0, 0, 0, 0, 0];
            packet.extend_from_slice(&u32::try_from(i).unwrap().to_be_bytes());
            packet.extend_from_slice(&payload);
            legs.push(Leg {
                port: port.unwrap_or_else(|| panic!("{}: call {i} not started", case.name)),
                source: SocketAddr::from(([192, 0, 2, 10], caller_port)),
                packet,
            });
        }
        assert_eq!(ua.live_calls(), case.legs, "{}", case.name);
        let mut bed = Bed {
            ua,
            now,
            ticks: 0,
            legs,
        };
        // Two seconds: the jitter buffer fills, the echo's line fills, the deposit's
        // greeting (one frame) and beep (400 ms) are over and it records. A room's cues
        // too: everyone set up at once, so each participant has a join tone (200 ms) per
        // later participant queued, and the first "you are the first participant".
        let mut warm_up = 100;
        if let (Kind::Conference(size), false) = (case.kind, case.cues) {
            let first = bed_prompt_ticks(&bed.ua, names::CONF_FIRST);
            warm_up += first + 10 * size;
        }
        for _ in 0..warm_up {
            let sent = bed.step();
            assert_eq!(sent, case.legs, "{}: one packet out per leg", case.name);
        }
        assert_eq!(bed.ua.live_calls(), case.legs, "{}", case.name);
        if let Kind::Conference(size) = case.kind {
            let rooms = bed.ua.rooms();
            assert_eq!(rooms.len(), case.legs / size, "{}: rooms", case.name);
            assert!(rooms.iter().all(|r| r.calls.len() == size), "{}", case.name);
        }
        bed
    }

    /// One tick: a packet into every leg, the tick, everything out drained (RTP and
    /// RTCP). Answers the RTP packets sent.
    fn step(&mut self) -> usize {
        self.ticks += 1;
        self.now += TICK;
        let sequence = (self.ticks as u16).to_be_bytes();
        let timestamp = self.ticks.wrapping_mul(160).to_be_bytes();
        for leg in &mut self.legs {
            leg.packet[2..4].copy_from_slice(&sequence);
            leg.packet[4..8].copy_from_slice(&timestamp);
            self.ua
                .handle_rtp(self.now, leg.port, leg.source, &leg.packet);
        }
        self.ua.tick(self.now);
        let mut sent = 0;
        while let Some(p) = self.ua.poll_rtp() {
            // RTCP (a report every few seconds per leg) is drained too, not counted.
            sent += usize::from(!p.rtcp);
            black_box(&p);
        }
        while let Some(t) = self.ua.poll_transmit() {
            black_box(&t);
        }
        while let Some(e) = self.ua.poll_event() {
            black_box(&e);
        }
        sent
    }
}

/// How many ticks the prompt `name` plays.
fn bed_prompt_ticks(ua: &ServiceUa, name: &str) -> usize {
    let prompt = ua.config().prompts.get(name).expect("a built-in prompt");
    (prompt.duration().as_millis() / TICK.as_millis()) as usize + 1
}

/// The counted part: `ticks` ticks (callgrind's `--toggle-collect` names this function).
#[inline(never)]
fn measured_ticks(bed: &mut Bed, ticks: u32) -> usize {
    let mut sent = 0;
    for _ in 0..ticks {
        sent += bed.step();
    }
    sent
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("media_services");
    group.sample_size(20);
    for case in cases() {
        // Set up only when criterion runs the case (its own filter), and again, untimed,
        // once the case has run for its `renew` ticks.
        let mut bed: Option<Bed> = None;
        let renew = case.renew();
        group.throughput(Throughput::Elements(case.legs as u64));
        group.bench_function(&case.name, |b| {
            b.iter_custom(|iters| {
                let mut spent = Duration::ZERO;
                for _ in 0..iters {
                    if bed.as_ref().is_none_or(|bed| bed.ticks >= renew) {
                        bed = Some(Bed::new(&case));
                    }
                    let bed = bed.as_mut().expect("set up above");
                    let start = Instant::now();
                    black_box(bed.step());
                    spent += start.elapsed();
                }
                spent
            })
        });
    }
    group.finish();
}

fn count(ticks: u32, filters: &[String]) {
    for case in cases() {
        if !filters.is_empty() && !filters.contains(&case.name) {
            continue;
        }
        let mut bed = Bed::new(&case);
        // The join tones play for the first seconds only: at most the renewal's 50 ticks.
        let ticks = if case.cues {
            ticks.min(case.renew() - 100)
        } else {
            ticks
        };
        let sent = measured_ticks(&mut bed, ticks);
        assert_eq!(sent, case.legs * ticks as usize, "{}", case.name);
        println!("{}: {} legs, {ticks} ticks counted", case.name, case.legs);
    }
}

/// The CPU time of this thread so far (`CLOCK_THREAD_CPUTIME_ID`): what a tick costs on
/// its core, without the time other processes of a shared machine had it.
fn thread_cpu() -> Duration {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
        .expect("the thread's CPU clock");
    Duration::from(t)
}

/// Every tick timed, `ticks` per case (set up anew after `Case::renew` ticks), on the
/// thread's CPU clock and the wall clock: the median, the slowest ticks, and the margin
/// of the slowest to the 20 ms a tick may take.
fn tail(ticks: usize, filters: &[String]) {
    println!(
        "| case | legs | ticks | CPU median µs | CPU p99 µs | CPU p99.9 µs | CPU slowest µs | 20 ms / slowest | wall p99.9 µs | wall slowest µs |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for case in cases() {
        if !filters.is_empty() && !filters.contains(&case.name) {
            continue;
        }
        let mut bed = Bed::new(&case);
        let mut cpu = Vec::with_capacity(ticks);
        let mut wall = Vec::with_capacity(ticks);
        for _ in 0..ticks {
            if bed.ticks >= case.renew() {
                bed = Bed::new(&case);
            }
            let (start, start_cpu) = (Instant::now(), thread_cpu());
            black_box(bed.step());
            cpu.push(thread_cpu().saturating_sub(start_cpu));
            wall.push(start.elapsed());
        }
        cpu.sort();
        wall.sort();
        let at = |times: &[Duration], q: f64| times[((times.len() - 1) as f64 * q) as usize];
        let slowest = at(&cpu, 1.0);
        println!(
            "| {} | {} | {ticks} | {} | {} | {} | {} | {:.1}x | {} | {} |",
            case.name,
            case.legs,
            at(&cpu, 0.5).as_micros(),
            at(&cpu, 0.99).as_micros(),
            at(&cpu, 0.999).as_micros(),
            slowest.as_micros(),
            TICK.as_secs_f64() / slowest.as_secs_f64(),
            at(&wall, 0.999).as_micros(),
            at(&wall, 1.0).as_micros(),
        );
    }
}

fn main() {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if let Ok(ticks) = std::env::var("MEDIA_BENCH_TICKS") {
        count(
            ticks.parse().expect("MEDIA_BENCH_TICKS: a number"),
            &filters,
        );
        return;
    }
    if let Ok(ticks) = std::env::var("MEDIA_BENCH_TAIL") {
        tail(ticks.parse().expect("MEDIA_BENCH_TAIL: a number"), &filters);
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
