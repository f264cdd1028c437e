//! The store's behaviours on PostgreSQL: one private cluster (Unix socket only) for this
//! test binary, a fresh database per behaviour. Needs PostgreSQL installed
//! (`scripts/install-test-deps.sh postgresql`); `ITSP_SKIP_POSTGRES=1` skips instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::pg::Cluster;
use common::suite::{self, for_each_behaviour};

macro_rules! pg_suite {
    ($($name:ident),* $(,)?) => {
        async fn run_suite(cluster: &Cluster) {
            $(
                let store = cluster.fresh_store(stringify!($name)).await;
                assert_eq!(store.backend_name(), "postgres");
                suite::$name(store.clone()).await;
                store.close().await;
                eprintln!("postgres: {} ok", stringify!($name));
            )*
        }
    };
}

for_each_behaviour!(pg_suite);

#[test]
fn postgres_suite() {
    // The cluster drops (and stops) after the runtime, also when a behaviour panics.
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run_suite(&cluster));
}
