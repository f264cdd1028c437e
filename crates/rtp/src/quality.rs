//! Call quality by the E-model of ITU-T G.107, simplified for what an endpoint measures:
//! one-way delay, packet loss and its burstiness, and the codec.
//!
//! ```text
//! R = R0 - Is - Id - Ie,eff + A
//! ```
//!
//! With every G.107 parameter at its default value R0 - Is - Id = 93.2 (R0 = 94.77,
//! Is = 1.41, Id = 0.15 for T = Ta = 0). The simplification: the echo terms of Id (Idte,
//! Idle) keep their default contribution, i.e. echo is assumed controlled (TELR = 65 dB)
//! whatever the delay, and only the delay term Idd of G.107 §7.3 grows with the one-way
//! (mouth-to-ear) delay Ta:
//!
//! ```text
//! Idd = 0                                                     for Ta <= 100 ms
//! Idd = 25 {(1 + X^6)^(1/6) - 3 (1 + (X/3)^6)^(1/6) + 2},     X = log2(Ta / 100 ms)
//! ```
//!
//! The equipment impairment under packet loss is G.107 §7.4:
//!
//! ```text
//! Ie,eff = Ie + (95 - Ie) * Ppl / (Ppl / BurstR + Bpl)
//! ```
//!
//! with Ppl the loss in percent, BurstR the burst ratio (1 for random loss), and the
//! codec's Ie and Bpl from [`CodecImpairment`]. MOS follows from R by G.107 Annex B.

use std::time::Duration;

/// R0 - Is - Id with every G.107 parameter at its default value.
pub const DEFAULT_R: f64 = 93.2;

/// A codec's equipment impairment factor Ie and packet-loss robustness factor Bpl.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CodecImpairment {
    /// Ie: the impairment of the codec without loss.
    pub ie: f64,
    /// Bpl: how well the codec (with its concealment) copes with loss.
    pub bpl: f64,
}

impl CodecImpairment {
    /// G.711 without packet-loss concealment: Ie = 0, Bpl = 4.3 (ITU-T G.113 Appendix I,
    /// Table I.3).
    pub const G711: CodecImpairment = CodecImpairment { ie: 0.0, bpl: 4.3 };
    /// G.711 with the concealment of G.711 Appendix I: Ie = 0, Bpl = 25.1 (ITU-T G.113
    /// Appendix I, Table I.3).
    pub const G711_PLC: CodecImpairment = CodecImpairment { ie: 0.0, bpl: 25.1 };
    /// GSM 06.10 full rate: Ie = 20 (ITU-T G.113 Appendix I, Table I.1). G.113 gives no
    /// Bpl for it; 10 is an assumption, the provisional value G.113 lists for GSM-EFR,
    /// which shares the GSM bad-frame substitution (GSM 06.11). Treat as a planning guess.
    pub const GSM_FR: CodecImpairment = CodecImpairment {
        ie: 20.0,
        bpl: 10.0,
    };
}

impl CodecImpairment {
    /// G.729 (CS-ACELP, 8 kbit/s) as G.113 Appendix I gives it with a Bpl: G.729A with
    /// VAD, Ie = 11, Bpl = 19.0 (Table I.3; Table I.1 gives Ie = 10 for G.729 itself).
    pub const G729: CodecImpairment = CodecImpairment {
        ie: 11.0,
        bpl: 19.0,
    };
    /// G.723.1 at 6.3 kbit/s with VAD: Ie = 15, Bpl = 16.1 (ITU-T G.113 Appendix I, Table
    /// I.3).
    pub const G723_1: CodecImpairment = CodecImpairment {
        ie: 15.0,
        bpl: 16.1,
    };
    /// AMR (narrowband) taken at its 12.2 kbit/s mode, which is GSM-EFR (3GPP TS 26.071):
    /// Ie = 5 (ITU-T G.113 Appendix I, Table I.1) and the provisional Bpl = 10 G.113 gives
    /// for GSM-EFR. The lower modes are worse; the mode is not known here (assumption).
    pub const AMR: CodecImpairment = CodecImpairment { ie: 5.0, bpl: 10.0 };
    /// G.722 on the narrowband E-model scale. G.113 rates G.722 only on the wideband scale
    /// of G.107.1; here it is taken as no worse than G.711 with concealment (Ie = 0,
    /// Bpl = 25.1). An assumption: the wideband advantage is not modelled.
    pub const G722: CodecImpairment = CodecImpairment::G711_PLC;
    /// AMR-WB on the narrowband scale: taken as AMR 12.2 (Ie = 5, Bpl = 10). An
    /// assumption: G.113 rates it on the wideband scale only.
    pub const AMR_WB: CodecImpairment = CodecImpairment::AMR;
    /// iLBC: not in G.113 Appendix I. Assumed Ie = 11 (as G.729A, a similar bit rate) and
    /// Bpl = 32 (iLBC codes every frame independently, RFC 3951 §1, and so degrades more
    /// slowly under loss than G.711 with concealment). An assumption, not a G.113 value.
    pub const ILBC: CodecImpairment = CodecImpairment {
        ie: 11.0,
        bpl: 32.0,
    };
    /// Opus: not in G.113. Assumed Ie = 0 and Bpl = 25.1 (as G.711 with concealment: Opus
    /// at VoIP bit rates is at least toll quality and has its own concealment, RFC 6716
    /// §4.4). An assumption, not a G.113 value.
    pub const OPUS: CodecImpairment = CodecImpairment::G711_PLC;
    /// Speex: not in G.113. Assumed Ie = 11 (as G.729A at a similar narrowband bit rate)
    /// and Bpl = 10. An assumption, not a G.113 value.
    pub const SPEEX: CodecImpairment = CodecImpairment {
        ie: 11.0,
        bpl: 10.0,
    };

    /// The impairment of a codec by its SDP encoding name (the `a=rtpmap` name, RFC 8866
    /// §6.6, compared without case; the RFC 3551 §6 names of the static payload types).
    /// `None` for names that carry no speech the E-model rates (`telephone-event` of RFC
    /// 4733, `CN`, `red`, FEC) and for unknown codecs.
    pub fn for_encoding(name: &str) -> Option<CodecImpairment> {
        let known: &[(&str, CodecImpairment)] = &[
            ("PCMU", CodecImpairment::G711_PLC),
            ("PCMA", CodecImpairment::G711_PLC),
            ("G722", CodecImpairment::G722),
            ("G729", CodecImpairment::G729),
            ("G723", CodecImpairment::G723_1),
            ("GSM", CodecImpairment::GSM_FR),
            ("GSM-EFR", CodecImpairment::AMR),
            ("AMR", CodecImpairment::AMR),
            ("AMR-WB", CodecImpairment::AMR_WB),
            ("iLBC", CodecImpairment::ILBC),
            ("opus", CodecImpairment::OPUS),
            ("speex", CodecImpairment::SPEEX),
        ];
        known
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, c)| *c)
    }
}

/// The one-way network delay a round trip suggests: half of it (the E-model's T and Ta
/// of G.107 §7.3 assume a symmetric path when only the round trip is known).
pub fn one_way_from_round_trip(round_trip: Duration) -> Duration {
    round_trip / 2
}

/// What the E-model is computed from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EModelInput {
    /// Mouth-to-ear delay Ta: network one way, jitter buffer, packetization.
    pub one_way_delay: Duration,
    /// Packet loss Ppl in percent (0-100), discarded late packets included.
    pub packet_loss_percent: f64,
    /// BurstR: 1 for random loss, larger for bursty loss.
    pub burst_ratio: f64,
    /// The codec.
    pub codec: CodecImpairment,
    /// The advantage factor A (0 for wired, up to 10 for mobile; G.107 Table 3).
    pub advantage: f64,
}

impl Default for EModelInput {
    /// No delay, no loss, G.711 with concealment, A = 0.
    fn default() -> Self {
        EModelInput {
            one_way_delay: Duration::ZERO,
            packet_loss_percent: 0.0,
            burst_ratio: 1.0,
            codec: CodecImpairment::G711_PLC,
            advantage: 0.0,
        }
    }
}

/// The delay impairment Idd of G.107 §7.3 for a mouth-to-ear delay.
pub fn delay_impairment(one_way_delay: Duration) -> f64 {
    let ta_ms = one_way_delay.as_secs_f64() * 1000.0;
    if ta_ms <= 100.0 {
        return 0.0;
    }
    let x = (ta_ms / 100.0).log2();
    let sixth = 1.0 / 6.0;
    25.0 * ((1.0 + x.powi(6)).powf(sixth) - 3.0 * (1.0 + (x / 3.0).powi(6)).powf(sixth) + 2.0)
}

/// The effective equipment impairment Ie,eff of G.107 §7.4.
pub fn effective_equipment_impairment(
    codec: CodecImpairment,
    packet_loss_percent: f64,
    burst_ratio: f64,
) -> f64 {
    let ppl = if packet_loss_percent.is_finite() {
        packet_loss_percent.clamp(0.0, 100.0)
    } else {
        0.0
    };
    let burst = if burst_ratio.is_finite() && burst_ratio > 0.0 {
        burst_ratio
    } else {
        1.0
    };
    let denominator = ppl / burst + codec.bpl;
    if denominator <= 0.0 {
        return codec.ie;
    }
    codec.ie + (95.0 - codec.ie) * ppl / denominator
}

/// The transmission rating R of the simplified E-model.
pub fn r_factor(input: &EModelInput) -> f64 {
    let advantage = if input.advantage.is_finite() {
        input.advantage
    } else {
        0.0
    };
    DEFAULT_R
        - delay_impairment(input.one_way_delay)
        - effective_equipment_impairment(input.codec, input.packet_loss_percent, input.burst_ratio)
        + advantage
}

/// The estimated mean opinion score (conversational quality, 1-4.5) of a rating R
/// (ITU-T G.107 Annex B): 1 below 0, 4.5 above 100,
/// `1 + 0.035 R + R (R - 60) (100 - R) 7e-6` between. The cubic dips slightly below 1 for
/// R under about 6.5; the result is kept at 1 there, the bottom of the MOS scale.
pub fn mos_from_r(r: f64) -> f64 {
    if r.is_nan() || r < 0.0 {
        1.0
    } else if r > 100.0 {
        4.5
    } else {
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7.0e-6).max(1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) -> bool {
        (a - b).abs() <= tolerance
    }

    #[test]
    fn defaults_give_r_93_2_and_mos_4_41() {
        let r = r_factor(&EModelInput::default());
        assert!(close(r, 93.2, 1e-9), "{r}");
        let mos = mos_from_r(r);
        assert!(close(mos, 4.41, 0.005), "{mos}");
    }

    #[test]
    fn mos_curve_fixed_points() {
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(f64::NAN), 1.0);
        assert_eq!(mos_from_r(100.1), 4.5);
        assert!(close(mos_from_r(0.0), 1.0, 1e-12));
        // At R = 60 the cubic term vanishes: 1 + 2.1.
        assert!(close(mos_from_r(60.0), 3.1, 1e-12));
        // At R = 100 likewise: 1 + 3.5.
        assert!(close(mos_from_r(100.0), 4.5, 1e-12));
        // The raw cubic would give about 0.989 at R = 3.
        assert_eq!(mos_from_r(3.0), 1.0);
        // Monotonic over the range.
        let mut last = 0.0;
        for r in 0..=100 {
            let m = mos_from_r(f64::from(r));
            assert!(m >= last, "{r}");
            last = m;
        }
    }

    #[test]
    fn delay_impairment_starts_above_100_ms() {
        assert_eq!(delay_impairment(Duration::from_millis(100)), 0.0);
        let at200 = delay_impairment(Duration::from_millis(200));
        // X = 1: 25 * (2^(1/6) - 3 (1 + 1/729)^(1/6) + 2).
        let expected =
            25.0 * (2f64.powf(1.0 / 6.0) - 3.0 * (1.0 + 1.0 / 729.0f64).powf(1.0 / 6.0) + 2.0);
        assert!(close(at200, expected, 1e-12));
        assert!(close(at200, 3.0, 0.1), "{at200}");
        let at400 = delay_impairment(Duration::from_millis(400));
        assert!(at400 > at200 && at400 > 10.0, "{at400}");
    }

    #[test]
    fn loss_raises_ie_eff_and_concealment_softens_it() {
        let none = effective_equipment_impairment(CodecImpairment::G711, 0.0, 1.0);
        assert_eq!(none, 0.0);
        let plain = effective_equipment_impairment(CodecImpairment::G711, 2.0, 1.0);
        let plc = effective_equipment_impairment(CodecImpairment::G711_PLC, 2.0, 1.0);
        // 95 * 2 / (2 + 4.3) and 95 * 2 / (2 + 25.1).
        assert!(close(plain, 190.0 / 6.3, 1e-9), "{plain}");
        assert!(close(plc, 190.0 / 27.1, 1e-9), "{plc}");
        let bursty = effective_equipment_impairment(CodecImpairment::G711_PLC, 2.0, 4.0);
        assert!(bursty > plc);
        let gsm = effective_equipment_impairment(CodecImpairment::GSM_FR, 0.0, 1.0);
        assert_eq!(gsm, 20.0);
        let lossy = r_factor(&EModelInput {
            packet_loss_percent: 5.0,
            ..EModelInput::default()
        });
        assert!(lossy < DEFAULT_R - 10.0, "{lossy}");
    }

    #[test]
    fn encodings_map_to_impairments_and_events_to_none() {
        assert_eq!(
            CodecImpairment::for_encoding("pcmu"),
            Some(CodecImpairment::G711_PLC)
        );
        assert_eq!(
            CodecImpairment::for_encoding("OPUS"),
            Some(CodecImpairment::OPUS)
        );
        assert_eq!(
            CodecImpairment::for_encoding("iLBC"),
            Some(CodecImpairment::ILBC)
        );
        assert_eq!(
            CodecImpairment::for_encoding("AMR"),
            Some(CodecImpairment::AMR)
        );
        assert_eq!(CodecImpairment::for_encoding("telephone-event"), None);
        assert_eq!(CodecImpairment::for_encoding("CN"), None);
        assert_eq!(CodecImpairment::for_encoding("H264"), None);
        // A codec with Ie > 0 scores below G.711 at no loss.
        let r = |codec| {
            r_factor(&EModelInput {
                codec,
                ..EModelInput::default()
            })
        };
        assert!(r(CodecImpairment::G729) < r(CodecImpairment::G711_PLC));
        assert!(close(r(CodecImpairment::G729), 93.2 - 11.0, 1e-9));
        assert_eq!(
            one_way_from_round_trip(Duration::from_millis(300)),
            Duration::from_millis(150)
        );
    }

    #[test]
    fn nonsense_inputs_do_not_produce_nan() {
        let r = r_factor(&EModelInput {
            packet_loss_percent: f64::NAN,
            burst_ratio: -1.0,
            advantage: f64::INFINITY,
            ..EModelInput::default()
        });
        assert!(r.is_finite());
    }
}
