//! The prompt set of a server: the built-in English prompts ([`names`]), each replaceable by
//! the operator with a WAV file of the same name in a prompts directory, which may also add
//! prompts of its own (IVR menus). Everything is read and converted when the set is loaded,
//! so a corrupt file or a missing prompt is an error at start, naming the file, and never a
//! surprise during a call.

pub mod names;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::prompt::Prompt;

/// Where a prompt of the set came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    BuiltIn,
    /// A file of the prompts directory.
    File(PathBuf),
}

/// A set of named prompts.
#[derive(Debug, Clone, Default)]
pub struct Prompts {
    prompts: BTreeMap<String, (Prompt, Origin)>,
}

impl Prompts {
    /// The built-in English set.
    pub fn built_in() -> Result<Prompts, Error> {
        let mut set = Prompts::default();
        for (name, bytes) in names::BUILT_IN {
            set.insert(Prompt::from_wav(name, bytes)?, Origin::BuiltIn);
        }
        Ok(set)
    }

    /// The built-in set with every `*.wav` file of `dir` (any format, [`crate::wav`]) in
    /// place of the built-in prompt of the same name (the file name without `.wav`), or
    /// added. Other files and subdirectories are ignored. The first unreadable or
    /// unusable file is the error, naming it.
    pub fn load(dir: &Path) -> Result<Prompts, Error> {
        let mut set = Prompts::built_in()?;
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Directory {
            dir: dir.to_owned(),
            source,
        })?;
        let mut files = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| Error::Directory {
                dir: dir.to_owned(),
                source,
            })?;
            let path = entry.path();
            let is_wav = path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("wav"));
            if is_wav && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let prompt = Prompt::load(&path)?;
            set.insert(prompt, Origin::File(path));
        }
        Ok(set)
    }

    /// Adds a prompt, or replaces the one of the same name.
    pub fn insert(&mut self, prompt: Prompt, origin: Origin) {
        self.prompts
            .insert(prompt.name().to_owned(), (prompt, origin));
    }

    /// The prompt named `name`.
    pub fn get(&self, name: &str) -> Option<&Prompt> {
        self.prompts.get(name).map(|(p, _)| p)
    }

    /// The prompt named `name`, or the error naming it.
    pub fn require(&self, name: &str) -> Result<&Prompt, Error> {
        self.get(name)
            .ok_or_else(|| Error::UnknownPrompt(name.to_owned()))
    }

    /// Checks at start that every prompt a configuration names exists.
    pub fn check<'a>(&self, names: impl IntoIterator<Item = &'a str>) -> Result<(), Error> {
        names
            .into_iter()
            .try_for_each(|name| self.require(name).map(|_| ()))
    }

    /// Where the prompt named `name` came from.
    pub fn origin(&self, name: &str) -> Option<&Origin> {
        self.prompts.get(name).map(|(_, o)| o)
    }

    /// The names of the set, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.prompts.keys().map(String::as_str)
    }

    /// The prompts saying the digits 0-9 of `number` one by one (other characters are
    /// skipped): for a greeting naming a mailbox, or a count of messages.
    pub fn digits(&self, number: &str) -> Vec<Prompt> {
        number
            .chars()
            .filter_map(names::digit)
            .filter_map(|name| self.get(name).cloned())
            .collect()
    }

    /// The prompts saying a time of day on the 24-hour clock as people read it aloud:
    /// "nine thirty", "fourteen oh five", "eighteen hundred" (empty for a time that does
    /// not exist).
    pub fn time_of_day(&self, hour: u8, minute: u8) -> Vec<Prompt> {
        if hour > 23 || minute > 59 {
            return Vec::new();
        }
        let mut words = names::number(hour);
        match minute {
            0 => words.push(names::NUMBER_HUNDRED),
            1..=9 => {
                words.push(names::NUMBER_OH);
                words.extend(names::number(minute));
            }
            _ => words.extend(names::number(minute)),
        }
        words
            .into_iter()
            .filter_map(|name| self.get(name).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests;
