//! [`lock`]: a mutex lock that survives a poisoned mutex.

use std::sync::{Mutex, MutexGuard};

/// Locks a mutex; a panic elsewhere while holding it does not stop the server (the data
/// under the server's mutexes stays consistent between statements).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
