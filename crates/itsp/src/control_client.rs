//! The client side of a running server's control socket (`server::control`), shared by
//! `itsp trace`, `itsp status` and `itsp hangup`: connecting, with the reason in plain
//! words when no server answers, and the one-answer requests.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use clap::Args;
use server::control::protocol::{Answer, Request};

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

/// Sends `request` to the server `control` names and reads its one answer line.
pub(crate) fn ask(control: &ControlArgs, request: &Request) -> Result<Answer, String> {
    let path = control.path();
    let stream = connect(&path, || match &control.socket {
        Some(socket) => format!(
            "no itsp server is running with control socket {}: start it with `itsp serve`",
            socket.display()
        ),
        None => format!(
            "no itsp server is running with data dir {}: start it with `itsp serve` \
             (or pass the server's --data-dir)",
            control.data_dir.display()
        ),
    })?;
    let mut line = serde_json::to_string(request).map_err(|e| e.to_string())?;
    line.push('\n');
    (&stream)
        .write_all(line.as_bytes())
        .map_err(|e| format!("cannot talk to itsp serve at {}: {e}", path.display()))?;
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .map_err(|e| format!("reading from itsp serve: {e}"))?;
    if answer.is_empty() {
        return Err("itsp serve closed the connection without answering".into());
    }
    serde_json::from_str::<Answer>(&answer)
        .map_err(|_| format!("itsp serve answered something unexpected: {answer}"))
}
