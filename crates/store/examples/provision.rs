//! Provisions benchmark subscribers: opens the store at URL, adds DOMAIN if missing and
//! the subscribers `user1`..`userN` with passwords `pw1`..`pwN`, through the public API
//! ([`store::Store::add_subscriber`], which computes the HA1 values). Used by
//! `bench/registrar.sh`; not part of the server.
//!
//! Usage: `cargo run --release -p store --example provision -- URL DOMAIN N`
//! e.g. `... -- 'sqlite:///tmp/itsp-data/itsp.db?mode=rwc' 127.0.0.1 20000`

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use store::{Store, StoreError};
use tokio::task::JoinSet;

/// Inserts in flight at once (SQLite serializes them; this hides the round trips).
const IN_FLIGHT: usize = 32;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (url, domain, n) = match args.as_slice() {
        [url, domain, n] => match n.parse::<u32>() {
            Ok(n) => (url.clone(), domain.clone(), n),
            Err(_) => return usage(),
        },
        _ => return usage(),
    };
    match provision(&url, &domain, n).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("provision: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: provision URL DOMAIN N   (adds user1..userN with passwords pw1..pwN)");
    ExitCode::from(2)
}

type Error = Box<dyn std::error::Error>;

async fn provision(url: &str, domain: &str, n: u32) -> Result<(), Error> {
    let start = Instant::now();
    let store = Arc::new(Store::open(url).await?);
    match store.add_domain(domain).await {
        Ok(()) | Err(StoreError::DomainExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let mut tasks = JoinSet::new();
    let mut added = 0u32;
    for i in 1..=n {
        if tasks.len() >= IN_FLIGHT {
            if let Some(r) = tasks.join_next().await {
                added += finished(r)?;
            }
        }
        let store = store.clone();
        let domain = domain.to_owned();
        tasks.spawn(async move {
            match store
                .add_subscriber(&format!("user{i}"), &domain, &format!("pw{i}"), None)
                .await
            {
                Ok(_) => Ok(1),
                Err(StoreError::UserExists(_)) => Ok(0),
                Err(e) => Err(e),
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        added += finished(r)?;
    }
    store.close().await;
    eprintln!(
        "provision: {added} subscribers added to {domain} ({} already there) in {:.1} s",
        n - added,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn finished(r: Result<Result<u32, StoreError>, tokio::task::JoinError>) -> Result<u32, Error> {
    Ok(r??)
}
