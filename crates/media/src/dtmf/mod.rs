//! DTMF input for menus and PINs: digits from RFC 4733 events and from SIP INFO requests
//! ([`info`]) collected into an answer — a menu choice, a mailbox number, a PIN — that
//! ends with a terminator (`#`), a maximum count, or a timeout.
//!
//! RFC 4733 packets go through `rtp`'s [`EventReceiver`], which reports each event once
//! however many of its packets arrive: the updates of a long key press share the event's
//! RTP timestamp (§2.5.1.2) and its end packet is sent three times (§2.5.1.4). Events that
//! a [`rtp::MediaStream`] already released (`poll_event`) are handed in as they are.
//!
//! Digits pressed before an answer is asked for (during a prompt) are kept: callers who
//! know the menu type ahead. [`DtmfCollector::has_input`] lets the caller stop the prompt
//! at the first key (barge-in).
//!
//! Timeouts: [`CollectorConfig::first_digit_timeout`] from [`DtmfCollector::start`] to the
//! first digit ([`Collected::NoInput`]), then [`CollectorConfig::inter_digit_timeout`] after
//! each digit ([`End::Timeout`]). The time is passed in; [`DtmfCollector::poll_timeout`]
//! says when to call [`DtmfCollector::poll`] again.

pub mod info;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use rtp::event::{EventReceiver, ReceivedEvent, TelephoneEvent};

use crate::error::Error;

pub use info::{parse_info, InfoDigit};

/// When an answer is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectorConfig {
    /// Digits in a complete answer (1 for a menu choice); at least 1.
    pub max_digits: usize,
    /// The digit that ends an answer early, not part of it (`#`); `None` for menus where
    /// every key is a choice.
    pub terminator: Option<char>,
    /// From [`DtmfCollector::start`] to the first digit; `None`: wait for ever.
    pub first_digit_timeout: Option<Duration>,
    /// After each digit.
    pub inter_digit_timeout: Duration,
}

impl CollectorConfig {
    /// One key, no terminator: a menu choice (5 s to press it).
    pub fn menu() -> CollectorConfig {
        CollectorConfig {
            max_digits: 1,
            terminator: None,
            first_digit_timeout: Some(Duration::from_secs(5)),
            inter_digit_timeout: Duration::from_secs(3),
        }
    }

    /// Up to `max_digits` digits ended by `#`: a PIN or a mailbox number.
    pub fn number(max_digits: usize) -> CollectorConfig {
        CollectorConfig {
            max_digits,
            terminator: Some('#'),
            first_digit_timeout: Some(Duration::from_secs(10)),
            inter_digit_timeout: Duration::from_secs(5),
        }
    }
}

/// How an answer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The terminator was pressed (it is not in the digits).
    Terminator,
    /// The maximum number of digits was reached.
    MaxDigits,
    /// No further digit within the inter-digit timeout.
    Timeout,
}

/// A complete answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Collected {
    /// Digits (possibly none, when the terminator came first).
    Digits {
        /// The digits, upper case, without the terminator.
        digits: String,
        /// What ended them.
        end: End,
    },
    /// No digit within the first-digit timeout.
    NoInput,
}

/// Collects DTMF digits into answers.
#[derive(Debug, Clone)]
pub struct DtmfCollector {
    config: CollectorConfig,
    receiver: EventReceiver,
    digits: String,
    /// When the first-digit timeout runs out, while armed.
    first_deadline: Option<Instant>,
    last_digit: Option<Instant>,
    ready: VecDeque<Collected>,
}

impl DtmfCollector {
    /// A collector answering per `config`. Refuses `max_digits` 0.
    pub fn new(config: CollectorConfig) -> Result<DtmfCollector, Error> {
        if config.max_digits == 0 {
            return Err(Error::Setting("DTMF: max_digits must be at least 1"));
        }
        Ok(DtmfCollector {
            config,
            receiver: EventReceiver::default(),
            digits: String::new(),
            first_deadline: None,
            last_digit: None,
            ready: VecDeque::new(),
        })
    }

    /// Asks for an answer now (the prompt has been played): arms the first-digit timeout
    /// unless digits were already typed ahead.
    pub fn start(&mut self, now: Instant) {
        self.first_deadline = match self.has_input() {
            true => None,
            false => self.config.first_digit_timeout.map(|t| now + t),
        };
    }

    /// Changes what an answer is (the next menu); digits typed ahead are kept.
    pub fn set_config(&mut self, config: CollectorConfig) -> Result<(), Error> {
        if config.max_digits == 0 {
            return Err(Error::Setting("DTMF: max_digits must be at least 1"));
        }
        self.config = config;
        Ok(())
    }

    /// One received RFC 4733 packet (its RTP timestamp and decoded payload); duplicates and
    /// updates of an event already seen count once (RFC 4733 §2.5.2).
    pub fn rtp_event(&mut self, now: Instant, timestamp: u32, event: &TelephoneEvent) {
        self.receiver.receive(now, timestamp, event);
        self.drain_receiver(now);
    }

    /// An event already released by a [`rtp::MediaStream`] (`poll_event`): each is one key.
    pub fn received_event(&mut self, now: Instant, event: &ReceivedEvent) {
        if let Some(digit) = event.digit {
            self.digit(now, digit);
        }
    }

    /// A SIP INFO request's body: its digit is taken. The error (with its status code,
    /// 415 or 400) is for the reply to the INFO.
    pub fn info(&mut self, now: Instant, content_type: &str, body: &[u8]) -> Result<char, Error> {
        let InfoDigit { digit, .. } = parse_info(content_type, body)?;
        self.digit(now, digit);
        Ok(digit)
    }

    /// A digit from any source; `false` (ignored) for a character that is not a DTMF
    /// digit.
    pub fn digit(&mut self, now: Instant, digit: char) -> bool {
        if rtp::event::digit_to_event(digit).is_err() {
            return false;
        }
        let digit = digit.to_ascii_uppercase();
        self.last_digit = Some(now);
        self.first_deadline = None;
        if self
            .config
            .terminator
            .is_some_and(|t| t.eq_ignore_ascii_case(&digit))
        {
            self.complete(End::Terminator);
        } else {
            self.digits.push(digit);
            if self.digits.len() >= self.config.max_digits {
                self.complete(End::MaxDigits);
            }
        }
        true
    }

    /// Whether a key has been pressed that is not yet part of a returned answer (stop the
    /// prompt: barge-in).
    pub fn has_input(&self) -> bool {
        !self.digits.is_empty() || !self.ready.is_empty()
    }

    /// The digits of the answer in progress.
    pub fn pending(&self) -> &str {
        &self.digits
    }

    /// The next complete answer at `now`, if any.
    pub fn poll(&mut self, now: Instant) -> Option<Collected> {
        self.drain_receiver(now);
        if self.ready.is_empty() {
            if let Some(last) = self.last_digit {
                if !self.digits.is_empty() && now >= last + self.config.inter_digit_timeout {
                    self.complete(End::Timeout);
                }
            }
            if self.first_deadline.is_some_and(|d| now >= d) {
                self.first_deadline = None;
                self.ready.push_back(Collected::NoInput);
            }
        }
        self.ready.pop_front()
    }

    /// When [`DtmfCollector::poll`] may have something new without further input.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let inter = self
            .last_digit
            .filter(|_| !self.digits.is_empty())
            .map(|t| t + self.config.inter_digit_timeout);
        [self.first_deadline, inter, self.receiver.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Forgets the digits typed and the answers not yet taken, and disarms the timeout.
    pub fn reset(&mut self) {
        self.digits.clear();
        self.ready.clear();
        self.first_deadline = None;
        self.last_digit = None;
    }

    fn drain_receiver(&mut self, now: Instant) {
        while let Some(event) = self.receiver.poll_event(now) {
            if let Some(digit) = event.digit {
                self.digit(now, digit);
            }
        }
    }

    fn complete(&mut self, end: End) {
        let digits = std::mem::take(&mut self.digits);
        self.ready.push_back(Collected::Digits { digits, end });
    }
}

#[cfg(test)]
mod tests;
