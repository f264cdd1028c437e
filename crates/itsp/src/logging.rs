//! The log of every command: text for people or JSON for collectors, on standard error,
//! through a filter that `itsp serve` can change while it runs (`[log] filter`, applied
//! again on SIGHUP) unless `RUST_LOG` or `--log` fixed it at start.

use std::sync::OnceLock;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

/// The filter when nothing says otherwise.
pub(crate) const DEFAULT_FILTER: &str = "info";

/// The installed filter, which [`set_filter`] replaces.
struct Installed {
    handle: reload::Handle<EnvFilter, Registry>,
    /// Set by `RUST_LOG` or `--log`: the config file's filter is not applied.
    fixed_by: Option<&'static str>,
}

static INSTALLED: OnceLock<Installed> = OnceLock::new();

/// Installs the log: `RUST_LOG` over `flag` (`--log`) over `fallback`.
pub(crate) fn init(json: bool, flag: Option<&str>, fallback: &str) {
    let from_env = std::env::var("RUST_LOG")
        .ok()
        .and_then(|text| EnvFilter::try_new(text).ok());
    let fixed_by = match (&from_env, flag) {
        (Some(_), _) => Some("RUST_LOG"),
        (None, Some(_)) => Some("--log"),
        (None, None) => None,
    };
    let filter = from_env
        .or_else(|| EnvFilter::try_new(flag.unwrap_or(fallback)).ok())
        .unwrap_or_else(|| EnvFilter::new(DEFAULT_FILTER));
    let (filter, handle) = reload::Layer::new(filter);
    let format = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry.with(format.json()).init();
    } else {
        registry.with(format).init();
    }
    let _ = INSTALLED.set(Installed { handle, fixed_by });
}

/// What became of a filter from the config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FilterOutcome {
    /// In force now.
    Applied,
    /// Not applied: `RUST_LOG` or `--log` (named) decide.
    Overridden(&'static str),
    /// Not applied: why.
    Failed(String),
}

/// Makes `filter` (the config file's `[log] filter`, or the default when it has none) the
/// log's filter, unless the command line or the environment fixed it.
pub(crate) fn set_filter(filter: Option<&str>) -> FilterOutcome {
    let Some(installed) = INSTALLED.get() else {
        return FilterOutcome::Failed("the log is not set up".into());
    };
    if let Some(by) = installed.fixed_by {
        return FilterOutcome::Overridden(by);
    }
    let parsed = match EnvFilter::try_new(filter.unwrap_or(DEFAULT_FILTER)) {
        Ok(parsed) => parsed,
        Err(e) => return FilterOutcome::Failed(e.to_string()),
    };
    match installed.handle.reload(parsed) {
        Ok(()) => FilterOutcome::Applied,
        Err(e) => FilterOutcome::Failed(e.to_string()),
    }
}
