//! A global allocator for tests that counts the heap allocations made by the current thread.
//!
//! Install it in a test or bench binary and measure a closure:
//!
//! ```
//! #[global_allocator]
//! static ALLOC: alloc_counter::CountingAlloc = alloc_counter::CountingAlloc;
//!
//! fn main() {
//!     let (len, counts) = alloc_counter::measure(|| std::hint::black_box(vec![7u8; 10]).len());
//!     assert_eq!(len, 10);
//!     assert_eq!(counts.allocs, 1);
//! }
//! ```
//!
//! Counts are kept per thread (a `const`-initialised thread local holding plain `Cell`s, so
//! the allocator itself never allocates), which keeps the test harness's other threads out of
//! the figures. Every call goes straight on to [`std::alloc::System`].
//!
//! This is the only crate of the workspace with `unsafe` code: implementing
//! [`GlobalAlloc`] cannot be done without it. Its manifest lints `unsafe_code` at "deny"
//! rather than the workspace's "forbid" so that the single `unsafe impl` below can carry an
//! `#[allow]`. It is a dev-dependency only and is not published.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Heap traffic of one thread over a measured section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Fresh allocations (`alloc` and `alloc_zeroed`).
    pub allocs: u64,
    /// Reallocations (a `Vec` or `String` growing in place or moving).
    pub reallocs: u64,
    /// Deallocations.
    pub deallocs: u64,
    /// Bytes requested by allocations and reallocations (new sizes).
    pub bytes: u64,
    /// Bytes given back by deallocations and reallocations (old sizes).
    pub freed_bytes: u64,
}

impl Counts {
    /// Allocations plus reallocations: every call that may have gone to the system allocator
    /// for new memory.
    pub fn total(&self) -> u64 {
        self.allocs + self.reallocs
    }

    /// Bytes still held: requested minus given back (negative when the section freed
    /// more than it took).
    pub fn live_bytes(&self) -> i64 {
        self.bytes as i64 - self.freed_bytes as i64
    }

    fn since(self, before: Counts) -> Counts {
        Counts {
            allocs: self.allocs - before.allocs,
            reallocs: self.reallocs - before.reallocs,
            deallocs: self.deallocs - before.deallocs,
            bytes: self.bytes - before.bytes,
            freed_bytes: self.freed_bytes - before.freed_bytes,
        }
    }
}

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    static REALLOCS: Cell<u64> = const { Cell::new(0) };
    static DEALLOCS: Cell<u64> = const { Cell::new(0) };
    static BYTES: Cell<u64> = const { Cell::new(0) };
    static FREED_BYTES: Cell<u64> = const { Cell::new(0) };
}

fn bump(counter: &'static std::thread::LocalKey<Cell<u64>>, by: u64) {
    // `try_with` fails only while the thread is being torn down; such calls are not counted.
    let _ = counter.try_with(|c| c.set(c.get().wrapping_add(by)));
}

fn read(counter: &'static std::thread::LocalKey<Cell<u64>>) -> u64 {
    counter.try_with(Cell::get).unwrap_or(0)
}

/// The current thread's totals since it started.
pub fn snapshot() -> Counts {
    Counts {
        allocs: read(&ALLOCS),
        reallocs: read(&REALLOCS),
        deallocs: read(&DEALLOCS),
        bytes: read(&BYTES),
        freed_bytes: read(&FREED_BYTES),
    }
}

/// Runs `f` and returns its result with the heap traffic it caused on this thread.
///
/// Only meaningful when [`CountingAlloc`] is the binary's `#[global_allocator]`; otherwise
/// the counts are zero.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Counts) {
    let before = snapshot();
    let value = f();
    let counts = snapshot().since(before);
    (value, counts)
}

/// [`System`] with per-thread counting. Use as `#[global_allocator]`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

// SAFETY: every method forwards its arguments unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counting touches only plain thread-local integers and neither
// allocates nor unwinds.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS, 1);
        bump(&BYTES, layout.size() as u64);
        // SAFETY: the caller's guarantees for `layout` are passed on as they are.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump(&ALLOCS, 1);
        bump(&BYTES, layout.size() as u64);
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        bump(&DEALLOCS, 1);
        bump(&FREED_BYTES, layout.size() as u64);
        // SAFETY: `ptr` was allocated by `System` through this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump(&REALLOCS, 1);
        bump(&BYTES, new_size as u64);
        bump(&FREED_BYTES, layout.size() as u64);
        // SAFETY: `ptr` and `layout` come from `System` through this allocator; `new_size`
        // is the caller's, passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
