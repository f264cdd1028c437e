use std::path::Path;
use std::time::Duration;

use super::*;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_built_in_set_has_every_prompt_of_the_script_and_the_folder() {
    let set = Prompts::built_in().unwrap();
    let mut files: Vec<String> = std::fs::read_dir(manifest_dir().join("prompts"))
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            path.file_stem().unwrap().to_string_lossy().into_owned()
        })
        .collect();
    files.sort();
    let names: Vec<&str> = set.names().collect();
    assert_eq!(names, files);
    let script = std::fs::read_to_string(manifest_dir().join("../../scripts/prompts.sh")).unwrap();
    for name in &names {
        assert!(
            script.contains(&format!("\"{name}|")),
            "{name} not in prompts.sh"
        );
        let prompt = set.get(name).unwrap();
        assert!(prompt.duration() > Duration::from_millis(250), "{name}");
        assert!(prompt.duration() < Duration::from_secs(10), "{name}");
        assert_eq!(set.origin(name), Some(&Origin::BuiltIn));
    }
    for d in '0'..='9' {
        assert!(set.get(names::digit(d).unwrap()).is_some());
    }
    assert_eq!(names::digit('x'), None);
    let total: usize = names::BUILT_IN.iter().map(|(_, b)| b.len()).sum();
    // Embedded in the binary: a few seconds of speech each, 16 kB a second.
    assert!(total < 2_500_000, "{total} octets of built-in prompts");
}

#[test]
fn numbers_and_times_of_day_are_said_as_people_read_them() {
    assert_eq!(names::number(0), ["digit-0"]);
    assert_eq!(names::number(7), ["digit-7"]);
    assert_eq!(names::number(13), ["number-13"]);
    assert_eq!(names::number(20), ["number-20"]);
    assert_eq!(names::number(42), ["number-40", "digit-2"]);
    assert_eq!(names::number(59), ["number-50", "digit-9"]);
    assert!(names::number(60).is_empty());
    assert_eq!(names::weekday(1), Some("day-1"));
    assert_eq!(names::weekday(7), Some("day-7"));
    assert_eq!(names::weekday(0), None);
    assert_eq!(names::weekday(8), None);
    let set = Prompts::built_in().unwrap();
    let said = |hour, minute| -> Vec<Duration> {
        set.time_of_day(hour, minute)
            .iter()
            .map(Prompt::duration)
            .collect()
    };
    let of = |names: &[&str]| -> Vec<Duration> {
        names
            .iter()
            .map(|n| set.get(n).unwrap().duration())
            .collect()
    };
    // "nine thirty", "fourteen oh five", "eighteen hundred", "zero hundred".
    assert_eq!(said(9, 30), of(&["digit-9", "number-30"]));
    assert_eq!(said(14, 5), of(&["number-14", "number-oh", "digit-5"]));
    assert_eq!(said(18, 0), of(&["number-18", "number-hundred"]));
    assert_eq!(said(0, 0), of(&["digit-0", "number-hundred"]));
    assert_eq!(
        said(23, 59),
        of(&["number-20", "digit-3", "number-50", "digit-9"])
    );
    assert!(said(24, 0).is_empty());
    assert!(said(12, 60).is_empty());
}

#[test]
fn a_directory_replaces_and_adds_prompts() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_owned();
    // A 44.1 kHz stereo replacement of "goodbye", and a new IVR prompt.
    write_wav(&dir.join("goodbye.wav"), 44_100, 2, 44_100);
    write_wav(&dir.join("ivr-welcome.WAV"), 8000, 1, 4000);
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    std::fs::create_dir_all(dir.join("sub.wav")).unwrap();
    let set = Prompts::load(&dir).unwrap();
    let goodbye = set.get(names::GOODBYE).unwrap();
    assert_eq!(goodbye.samples().len(), 8000);
    assert_eq!(
        set.origin(names::GOODBYE),
        Some(&Origin::File(dir.join("goodbye.wav")))
    );
    assert_eq!(
        set.get("ivr-welcome").unwrap().duration(),
        Duration::from_millis(500)
    );
    assert_eq!(set.origin(names::VM_MENU), Some(&Origin::BuiltIn));
    set.check(["ivr-welcome", names::VM_MENU]).unwrap();
    let missing = set.check(["ivr-welcome", "ivr-sales"]).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "no prompt named \"ivr-sales\" in the prompts directory or the built-in set"
    );
    assert_eq!(set.digits("4#2").len(), 2);
    assert_eq!(set.digits("4#2")[1].name(), "digit-2");
}

#[test]
fn a_corrupt_file_or_a_missing_directory_is_named() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().join("prompts");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("vm-greeting.wav"), b"RIFF....WAVEnothing").unwrap();
    let e = Prompts::load(&dir).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("vm-greeting.wav"), "{text}");
    assert!(text.contains("not a readable WAV file"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();

    let e = Prompts::load(&dir).unwrap_err();
    assert!(matches!(e, Error::Directory { .. }), "{e}");
    assert!(e.to_string().contains(&*dir.to_string_lossy()), "{e}");
}

fn write_wav(path: &Path, rate: u32, channels: u16, frames: usize) {
    let spec = hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for n in 0..frames * usize::from(channels) {
        w.write_sample(((n % 100) as i16 - 50) * 100).unwrap();
    }
    w.finalize().unwrap();
}
