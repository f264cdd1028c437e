//! Personal voicemail greetings on disk, in one place: a mailbox's greeting is
//! `DIR/DOMAIN/USER/greeting.wav` ([`greeting_path`], the folder of
//! [`super::shell::mailbox_dir`]), read by every deposit (the shell's `Environment`) and
//! written by the voicemail menu (a greeting recorded by phone, through `itsp serve`) and
//! by the portal (an uploaded WAV). [`prepare_upload`] turns any WAV file into the stored
//! form, 8 kHz mono 16-bit PCM, with the conversion of [`crate::wav::decode`];
//! [`store_greeting`] writes it as a temporary file renamed over the old one, so a deposit
//! never reads half a greeting; [`remove_greeting`] brings back the default greeting.
//!
//! These functions do blocking file I/O: an async caller runs them on a blocking thread.

use std::io;
use std::path::{Path, PathBuf};

use rtp::codec::CLOCK_RATE;

use super::shell::mailbox_dir;
use super::Mailbox;
use crate::error::WavError;

/// The file name of a personal greeting in its mailbox's folder.
pub const GREETING_FILE: &str = "greeting.wav";

/// The longest greeting an upload may hold, in seconds.
pub const MAX_UPLOAD_SECONDS: u64 = 60;

/// Why an uploaded greeting is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GreetingError {
    /// Not a WAV file this server reads (see [`crate::wav`]).
    #[error("{0}")]
    Wav(#[from] WavError),
    /// Longer than [`MAX_UPLOAD_SECONDS`] (or the limit given).
    #[error("the recording lasts {seconds} s; a greeting may last at most {max} s")]
    TooLong {
        /// Its length, whole seconds rounded up.
        seconds: u64,
        /// The limit.
        max: u64,
    },
}

/// The path of the personal greeting of `mailbox` under the voicemail folder `dir`.
pub fn greeting_path(dir: &Path, mailbox: &Mailbox) -> PathBuf {
    mailbox_dir(dir, mailbox).join(GREETING_FILE)
}

/// Any WAV file (`bytes`) as a stored greeting: decoded and converted to 8 kHz mono
/// 16-bit ([`crate::wav::decode`]), at most `max_seconds` long, written back as a WAV
/// file. Answers the file and its length in milliseconds. Never panics on any input.
pub fn prepare_upload(bytes: &[u8], max_seconds: u64) -> Result<(Vec<u8>, u64), GreetingError> {
    let decoded = crate::wav::decode(bytes)?;
    let samples = decoded.samples.len() as u64;
    let rate = u64::from(CLOCK_RATE);
    if samples > max_seconds.saturating_mul(rate) {
        return Err(GreetingError::TooLong {
            seconds: samples.div_ceil(rate),
            max: max_seconds,
        });
    }
    let wav = rtp::audio::wav::write(CLOCK_RATE, &decoded.samples);
    Ok((wav, samples * 1000 / rate))
}

/// Writes `wav` as the personal greeting of `mailbox` under `dir` (the folders made as
/// needed): a temporary file renamed over the old greeting. Answers the greeting's path.
pub fn store_greeting(dir: &Path, mailbox: &Mailbox, wav: &[u8]) -> io::Result<PathBuf> {
    let folder = mailbox_dir(dir, mailbox);
    let path = folder.join(GREETING_FILE);
    let temporary = folder.join(format!(".greeting-{:04x}.wav", fastrand::u16(..)));
    let written = std::fs::create_dir_all(&folder)
        .and_then(|()| std::fs::write(&temporary, wav))
        .and_then(|()| std::fs::rename(&temporary, &path));
    match written {
        Ok(()) => Ok(path),
        Err(e) => {
            let _ = std::fs::remove_file(&temporary);
            Err(e)
        }
    }
}

/// Removes the personal greeting of `mailbox` under `dir`, so callers hear the default
/// one again. Answers whether there was one.
pub fn remove_greeting(dir: &Path, mailbox: &Mailbox) -> io::Result<bool> {
    match std::fs::remove_file(greeting_path(dir, mailbox)) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The personal greeting of `mailbox` under `dir` as stored, `None` when it has none.
pub fn read_greeting(dir: &Path, mailbox: &Mailbox) -> io::Result<Option<Vec<u8>>> {
    match std::fs::read(greeting_path(dir, mailbox)) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mailbox() -> Mailbox {
        Mailbox {
            user: "bob".into(),
            domain: "example.com".into(),
        }
    }

    #[test]
    fn an_upload_becomes_8_khz_mono() {
        // One second of stereo 16-bit at 44.1 kHz.
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 44_100,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut bytes = std::io::Cursor::new(Vec::new());
        {
            let mut w = hound::WavWriter::new(&mut bytes, spec).unwrap();
            for i in 0..44_100 {
                let v =
                    ((i as f64 * 440.0 * std::f64::consts::TAU / 44_100.0).sin() * 8000.0) as i16;
                w.write_sample(v).unwrap();
                w.write_sample(v).unwrap();
            }
            w.finalize().unwrap();
        }
        let (wav, ms) = prepare_upload(bytes.get_ref(), MAX_UPLOAD_SECONDS).unwrap();
        assert!((990..=1010).contains(&ms), "{ms}");
        let r = hound::WavReader::new(std::io::Cursor::new(&wav)).unwrap();
        assert_eq!(r.spec().sample_rate, 8000);
        assert_eq!(r.spec().channels, 1);
        assert_eq!(r.spec().bits_per_sample, 16);
    }

    #[test]
    fn uploads_that_are_no_wav_or_too_long_are_refused() {
        assert!(matches!(
            prepare_upload(b"GIF89a....", 60),
            Err(GreetingError::Wav(_))
        ));
        let two_seconds = rtp::audio::wav::write(8000, &[100i16; 16_000]);
        assert_eq!(
            prepare_upload(&two_seconds, 1),
            Err(GreetingError::TooLong { seconds: 2, max: 1 })
        );
        assert!(prepare_upload(&two_seconds, 2).is_ok());
    }

    #[test]
    fn stored_read_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let m = mailbox();
        assert_eq!(read_greeting(dir.path(), &m).unwrap(), None);
        assert!(!remove_greeting(dir.path(), &m).unwrap());
        let path = store_greeting(dir.path(), &m, b"RIFF").unwrap();
        assert_eq!(path, dir.path().join("example.com/bob/greeting.wav"));
        assert_eq!(
            read_greeting(dir.path(), &m).unwrap().as_deref(),
            Some(&b"RIFF"[..])
        );
        store_greeting(dir.path(), &m, b"RIFF2").unwrap();
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        assert!(remove_greeting(dir.path(), &m).unwrap());
        assert_eq!(read_greeting(dir.path(), &m).unwrap(), None);
    }
}
