//! One prompt: a named piece of audio at 8 kHz mono 16-bit, shared cheaply between the calls
//! that play it.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rtp::codec::CLOCK_RATE;

use crate::error::Error;
use crate::wav;

/// A named piece of telephony audio (8 kHz, mono, 16-bit). Cloning shares the samples.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    name: Arc<str>,
    samples: Arc<[i16]>,
}

impl Prompt {
    /// A prompt of samples already at 8 kHz.
    pub fn from_samples(name: &str, samples: impl Into<Arc<[i16]>>) -> Prompt {
        Prompt {
            name: name.into(),
            samples: samples.into(),
        }
    }

    /// A prompt from the bytes of a WAV file of any format ([`wav::decode`]); errors name
    /// the prompt `name`.
    pub fn from_wav(name: &str, bytes: &[u8]) -> Result<Prompt, Error> {
        let decoded = wav::decode(bytes).map_err(|problem| Error::Wav {
            file: name.to_owned(),
            problem,
        })?;
        Ok(Prompt::from_samples(name, decoded.samples))
    }

    /// Reads a WAV file; the prompt's name is the file name without its extension, errors
    /// name the file's path.
    pub fn load(path: &Path) -> Result<Prompt, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            file: path.to_owned(),
            source,
        })?;
        let decoded = wav::decode(&bytes).map_err(|problem| Error::Wav {
            file: path.display().to_string(),
            problem,
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default();
        Ok(Prompt::from_samples(&name, decoded.samples))
    }

    /// The prompt's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The samples, 8000 per second.
    pub fn samples(&self) -> &[i16] {
        &self.samples
    }

    /// How long it plays.
    pub fn duration(&self) -> Duration {
        samples_duration(self.samples.len())
    }
}

/// The duration of `samples` samples at 8 kHz.
pub(crate) fn samples_duration(samples: usize) -> Duration {
    Duration::from_micros(samples as u64 * 1_000_000 / u64::from(CLOCK_RATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prompt_knows_its_length() {
        let p = Prompt::from_samples("x", vec![0i16; 12_000]);
        assert_eq!(p.duration(), Duration::from_millis(1500));
        assert_eq!(p.name(), "x");
        let copy = p.clone();
        assert!(std::ptr::eq(copy.samples(), p.samples()));
    }

    #[test]
    fn errors_name_the_file() {
        let e = Prompt::from_wav("greeting", b"not a wav").unwrap_err();
        assert!(e.to_string().starts_with("prompt greeting: "), "{e}");
        let dir = std::env::temp_dir().join("media-prompt-test-missing.wav");
        let e = Prompt::load(&dir).unwrap_err();
        assert!(
            e.to_string().contains("media-prompt-test-missing.wav"),
            "{e}"
        );
        assert!(matches!(e, Error::Read { .. }));
    }
}
