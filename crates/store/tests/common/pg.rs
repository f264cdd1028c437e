//! A private PostgreSQL cluster for the tests: `initdb` and `pg_ctl` in a temporary
//! directory, listening on a Unix socket in that directory only (no TCP), stopped and
//! removed when the [`Cluster`] drops, also when a test panics.
//!
//! PostgreSQL refuses to run as root, so as root (CI) the server runs as the `postgres`
//! user (or `nobody`) through `runuser`, in a directory owned by that user.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sqlx::Connection;
use store::Store;

pub const SKIP_ENV: &str = "ITSP_SKIP_POSTGRES";

pub struct Cluster {
    bin: PathBuf,
    /// The user the server runs as when we are root.
    run_as: Option<String>,
    /// Holds the data directory `data/`, the socket and `log`.
    dir: tempfile::TempDir,
    superuser: &'static str,
}

/// The directory of `initdb` and `pg_ctl`: the newest `/usr/lib/postgresql/N/bin` (Debian),
/// else wherever `initdb` is on the PATH.
fn find_bin() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
    })
}

fn id_of(user: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, user]).output().ok()?;
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn run(cmd: &mut Command, what: &str, log: &Path) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    if !out.status.success() {
        let log = std::fs::read_to_string(log).unwrap_or_default();
        panic!(
            "{what} failed ({}):\n{}{}\nserver log:\n{log}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Cluster {
    /// Starts a cluster; `None` (after saying so) when PostgreSQL is not installed and
    /// `ITSP_SKIP_POSTGRES=1`. Without that variable a missing PostgreSQL fails the test.
    pub fn start() -> Option<Cluster> {
        let Some(bin) = find_bin() else {
            if std::env::var(SKIP_ENV).is_ok_and(|v| v == "1") {
                eprintln!("PostgreSQL tests SKIPPED: PostgreSQL is not installed and {SKIP_ENV}=1");
                return None;
            }
            panic!(
                "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb, no initdb on \
                 PATH): run `scripts/install-test-deps.sh postgresql`, or set {SKIP_ENV}=1 to \
                 skip these tests"
            );
        };
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        // As root the server's user must reach the directory: /tmp, not a private TMPDIR.
        let parent = if root {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("itsp-pg-")
            .tempdir_in(parent)
            .unwrap();
        let run_as = root.then(|| {
            let user = if id_of("postgres", "-u").is_some() {
                "postgres"
            } else {
                "nobody"
            };
            let uid = id_of(user, "-u").unwrap();
            let gid = id_of(user, "-g").unwrap();
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
            user.to_owned()
        });
        let c = Cluster {
            bin,
            run_as,
            dir,
            superuser: "itsp",
        };
        let data = c.dir.path().join("data");
        let log = c.dir.path().join("log");
        run(
            c.command("initdb")
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    c.superuser,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ])
                .arg("--no-sync"),
            "initdb",
            &log,
        );
        let opts = format!(
            "-k {} -c listen_addresses='' -c fsync=off -c full_page_writes=off",
            c.dir.path().display()
        );
        run(
            c.command("pg_ctl")
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(&log)
                .args(["-w", "-t", "60", "-o", &opts, "start"]),
            "pg_ctl start",
            &log,
        );
        Some(c)
    }

    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// The URL of database `db` over the Unix socket.
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgres:///{db}?host={}&user={}",
            self.dir.path().display(),
            self.superuser
        )
    }

    /// A store on a new, empty database named `db`.
    pub async fn fresh_store(&self, db: &str) -> Store {
        let mut admin = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE \"{db}\""))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        Store::open(&self.url(db)).await.unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let stopped = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        if !stopped.is_ok_and(|o| o.status.success()) {
            eprintln!(
                "warning: pg_ctl stop failed for {}",
                self.dir.path().display()
            );
        }
    }
}
