//! Audio helpers around the codecs: WAV files in and out ([`wav`]), sample-rate conversion
//! to and from the 8 kHz of telephony ([`resample`]), tone generation for DTMF and
//! announcements ([`tone`]), and Goertzel detection of a frequency's power ([`goertzel`])
//! for tests and diagnostics. Samples are 16-bit signed linear PCM, mono.

pub mod goertzel;
pub mod resample;
pub mod tone;
pub mod wav;
