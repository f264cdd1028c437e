use super::*;

fn ms(t: Instant, ms: u64) -> Instant {
    t + Duration::from_millis(ms)
}

fn digits(d: &str, end: End) -> Option<Collected> {
    Some(Collected::Digits {
        digits: d.into(),
        end,
    })
}

fn event(code: u8, duration: u16, end: bool) -> TelephoneEvent {
    TelephoneEvent {
        event: code,
        end,
        volume: 10,
        duration,
    }
}

#[test]
fn a_pin_ends_with_the_terminator() {
    let t = Instant::now();
    let mut c = DtmfCollector::new(CollectorConfig::number(8)).unwrap();
    c.start(t);
    for (i, d) in "1234#".chars().enumerate() {
        assert!(c.digit(ms(t, 300 * i as u64), d));
    }
    assert_eq!(c.poll(ms(t, 1200)), digits("1234", End::Terminator));
    assert_eq!(c.poll(ms(t, 60_000)), None, "no timeout after an answer");
    assert!(!c.has_input());
}

#[test]
fn rfc_4733_retransmissions_and_updates_are_one_digit() {
    let t = Instant::now();
    let mut c = DtmfCollector::new(CollectorConfig::number(4)).unwrap();
    // Key 7: start, two updates, three end packets (RFC 4733 §2.5.1.4), all timestamp 800.
    for (i, (duration, end)) in [
        (160, false),
        (320, false),
        (480, false),
        (640, true),
        (640, true),
        (640, true),
    ]
    .into_iter()
    .enumerate()
    {
        c.rtp_event(ms(t, 20 * i as u64), 800, &event(7, duration, end));
    }
    // Key # at timestamp 4000, its end packets only (the start was lost).
    for i in 0..3 {
        c.rtp_event(ms(t, 800 + 20 * i), 4000, &event(11, 800, true));
    }
    assert_eq!(c.poll(ms(t, 900)), digits("7", End::Terminator));
    assert_eq!(c.poll(ms(t, 10_000)), None);
}

#[test]
fn an_event_without_its_end_packets_still_counts_once() {
    let t = Instant::now();
    let mut c = DtmfCollector::new(CollectorConfig::menu()).unwrap();
    c.rtp_event(t, 100, &event(2, 160, false));
    assert_eq!(c.poll(t), None);
    // The receiver holds it up to 120 ms waiting for the end.
    assert_eq!(c.poll_timeout(), Some(ms(t, 120)));
    assert_eq!(c.poll(ms(t, 120)), digits("2", End::MaxDigits));
    c.rtp_event(ms(t, 200), 100, &event(2, 800, true));
    assert_eq!(c.poll(ms(t, 300)), None);
}

#[test]
fn info_digits_count_like_rtp_ones() {
    let t = Instant::now();
    let mut c = DtmfCollector::new(CollectorConfig::number(4)).unwrap();
    assert_eq!(
        c.info(t, "application/dtmf-relay", b"Signal=4\r\nDuration=160\r\n")
            .unwrap(),
        '4'
    );
    assert_eq!(c.info(ms(t, 100), "application/dtmf", b"2").unwrap(), '2');
    assert!(c.info(ms(t, 200), "text/plain", b"x").is_err());
    assert_eq!(c.pending(), "42");
    c.received_event(
        ms(t, 300),
        &ReceivedEvent {
            event: 11,
            digit: Some('#'),
            timestamp: 0,
            duration: 800,
            ended: true,
        },
    );
    assert_eq!(c.poll(ms(t, 300)), digits("42", End::Terminator));
}

#[test]
fn the_maximum_count_ends_an_answer_and_type_ahead_starts_the_next() {
    let t = Instant::now();
    let mut c = DtmfCollector::new(CollectorConfig::menu()).unwrap();
    // Pressed during the prompt, before start: kept.
    c.digit(t, '1');
    c.digit(ms(t, 100), '#');
    assert!(c.has_input());
    c.start(ms(t, 5000));
    assert_eq!(
        c.poll_timeout(),
        None,
        "no first-digit timeout with digits typed ahead"
    );
    assert_eq!(c.poll(ms(t, 5000)), digits("1", End::MaxDigits));
    assert_eq!(c.poll(ms(t, 5000)), digits("#", End::MaxDigits));
    assert_eq!(c.poll(ms(t, 5000)), None);
    assert!(!c.digit(t, 'x'));
}

#[test]
fn timeouts_first_digit_and_inter_digit() {
    let t = Instant::now();
    let mut c = DtmfCollector::new(CollectorConfig::number(10)).unwrap();
    assert_eq!(c.poll_timeout(), None, "nothing armed before start");
    c.start(t);
    assert_eq!(c.poll_timeout(), Some(ms(t, 10_000)));
    assert_eq!(c.poll(ms(t, 9_999)), None);
    assert_eq!(c.poll(ms(t, 10_000)), Some(Collected::NoInput));
    assert_eq!(c.poll(ms(t, 30_000)), None, "NoInput once");

    c.start(ms(t, 30_000));
    c.digit(ms(t, 31_000), '9');
    c.digit(ms(t, 32_000), '8');
    assert_eq!(c.poll_timeout(), Some(ms(t, 37_000)));
    assert_eq!(c.poll(ms(t, 36_999)), None);
    assert_eq!(c.poll(ms(t, 37_000)), digits("98", End::Timeout));
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn reset_and_settings() {
    let t = Instant::now();
    let mut c = DtmfCollector::new(CollectorConfig::number(4)).unwrap();
    c.digit(t, '5');
    c.reset();
    assert_eq!(c.pending(), "");
    assert_eq!(c.poll(ms(t, 60_000)), None);
    let zero = CollectorConfig {
        max_digits: 0,
        ..CollectorConfig::menu()
    };
    assert!(DtmfCollector::new(zero.clone()).is_err());
    assert!(c.set_config(zero).is_err());
    c.set_config(CollectorConfig::menu()).unwrap();
    c.digit(t, 'b');
    assert_eq!(c.poll(t), digits("B", End::MaxDigits));
}
