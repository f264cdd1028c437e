//! `itsp phone`: settings from flags and the profile, then the `phone` crate's loop on a
//! tokio runtime.

use std::process::ExitCode;

use phone::options::PhoneArgs;

/// Runs the phone; exit status 0 when the command succeeded, 1 when it failed (the reason
/// is printed), 2 for bad settings.
pub(crate) fn run(args: PhoneArgs) -> anyhow::Result<ExitCode> {
    let settings = args.flags.settings()?;
    let json = settings.json;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(phone::app::run(args.command, settings));
    // The terminal reader blocks in a thread on stdin; do not wait for it.
    runtime.shutdown_background();
    match outcome {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            if json {
                // The last event of the stream, for scripts reading --json.
                println!(
                    "{}",
                    serde_json::json!({"event": "failed", "error": e.to_string()})
                );
            }
            eprintln!("itsp phone: {e}");
            Ok(ExitCode::from(1))
        }
    }
}
