//! The client side of a running server's control socket (`server::control`), shared by
//! `itsp trace` and `itsp status`: connecting, with the reason in plain words when no
//! server answers.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use clap::Args;

use crate::capture_config::CONTROL_SOCKET;

/// Which server: its data directory, or its control socket where the config moved it.
#[derive(Debug, Args)]
pub(crate) struct ControlArgs {
    /// The data directory of the server, whose control socket is DIR/control.sock.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "./data",
        env = "ITSP_DATA_DIR",
        hide_env_values = true
    )]
    pub(crate) data_dir: PathBuf,
    /// The server's control socket, when its config moves it (`[control] socket`).
    #[arg(long, value_name = "PATH")]
    pub(crate) socket: Option<PathBuf>,
}

impl ControlArgs {
    /// The control socket's path.
    pub(crate) fn path(&self) -> PathBuf {
        self.socket
            .clone()
            .unwrap_or_else(|| self.data_dir.join(CONTROL_SOCKET))
    }
}

/// Connects to the control socket at `path`. The error is a sentence for the operator:
/// `not_running` when nothing listens there (no socket file, or one a dead server left).
pub(crate) fn connect(
    path: &Path,
    not_running: impl FnOnce() -> String,
) -> Result<UnixStream, String> {
    UnixStream::connect(path).map_err(|e| {
        let shown = path.display();
        match e.kind() {
            std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => not_running(),
            std::io::ErrorKind::PermissionDenied => format!(
                "cannot reach itsp serve at {shown}: permission denied (run as the server's user)"
            ),
            _ => format!("cannot reach itsp serve at {shown}: {e}"),
        }
    })
}
