//! # media — the sans-IO parts of itsp's media services
//!
//! Voicemail, conference, echo, announcements and IVR (DESIGN.md, issue 19) are built from
//! the parts in this crate: prompts loaded from WAV files, a player that turns them into
//! RTP payloads, tones, a recorder with silence detection, an echo, a DTMF collector and a
//! conference mixer. Like `rtp`, whose codecs, jitter buffer, RFC 4733 receiver, resampler
//! and tone generators they use, they open no socket, start no task and read no clock:
//! audio moves in 20 ms frames of 160 samples at 8 kHz ([`PcmFrame`]), one per tick of the
//! caller's media loop, and where a deadline matters (DTMF timeouts) the time is passed in.
//! Only loading prompts reads files, once, at start.
//!
//! ## Layout
//!
//! | module | concept |
//! |---|---|
//! | [`wav`] | any WAV file (`hound`: 8-32-bit PCM, float, any rate and channels) to 8 kHz mono 16-bit |
//! | [`prompt`] | [`Prompt`]: a named piece of 8 kHz audio, shared between calls |
//! | [`prompts`] | [`Prompts`]: the built-in English set, replaced or extended from a directory |
//! | [`tone`] | [`ToneSpec`], [`ToneGenerator`]: the beep, conference join/leave tones, DTMF digits as sound |
//! | [`player`] | [`Player`], [`Sequence`]: prompts, tones and pauses in sequence as 20 ms frames, PCM or encoded payloads |
//! | [`listener`] | [`Listener`]: each tick's jitter-buffer answer decoded, concealed or silent, as one frame |
//! | [`recorder`] | [`Recorder`]: a caller's frames into a WAV until `#`, silence, the maximum length or hang-up |
//! | [`dtmf`] | [`DtmfCollector`]: RFC 4733 events (deduplicated) and SIP INFO digits into answers (terminator, count, timeouts) |
//! | [`dtmf::info`] | the digit of a SIP INFO body: `application/dtmf-relay` (`Signal=5`) and `application/dtmf` |
//! | [`echo`] | [`Echo`]: the caller's audio back after a delay, their digits as DTMF tones |
//! | [`mixer`] | [`Mixer`]: a conference room, each participant hears the saturated sum of the others |
//! | [`error`] | [`Error`] and [`WavError`]: what is wrong, and whose fault it is |

pub mod dtmf;
pub mod echo;
pub mod error;
pub mod listener;
pub mod mixer;
pub mod player;
pub mod prompt;
pub mod prompts;
pub mod recorder;
pub mod tone;
pub mod wav;

pub use dtmf::{Collected, CollectorConfig, DtmfCollector, End};
pub use echo::Echo;
pub use error::{Error, WavError};
pub use listener::{Heard, Listener};
pub use mixer::{Mixer, ParticipantId};
pub use player::{Player, Segment, Sequence};
pub use prompt::Prompt;
pub use prompts::Prompts;
pub use recorder::{Recorder, RecorderConfig, Recording, StopReason};
pub use tone::{ToneGenerator, ToneSpec};

/// One 20 ms frame of 8 kHz 16-bit mono audio: the unit every part here takes and gives.
pub type PcmFrame = [i16; rtp::codec::FRAME_SAMPLES];
