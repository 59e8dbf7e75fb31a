//! `fork()` safety: every lock a child could inherit held is taken before
//! the fork and released after it, in parent and child
//! (`os.register_at_fork` in the Python package calls these).
//!
//! Two phases, because of the GIL. Locks held across network I/O (the
//! single-flight lock, the HTTP client slot) are taken with the GIL released,
//! so a fetch in flight can finish. Locks held only for moments (key state,
//! verified tokens, log events, the registries, a signature check in the
//! crypto library) are taken with the GIL held:
//! the threads holding them never wait for the GIL, while a thread that holds
//! the GIL may be waiting for them.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::client::Client;

/// Every live client.
static REGISTRY: Mutex<Vec<Weak<Client>>> = Mutex::new(Vec::new());
/// The clients whose locks are held across the fork in progress.
static FORKING: Mutex<Vec<Arc<Client>>> = Mutex::new(Vec::new());
/// True from the second phase until after the fork: the brief locks are
/// held by the forking thread.
static IN_PROGRESS: AtomicBool = AtomicBool::new(false);

/// True while a fork holds the locks of the second phase. The forking
/// thread may still run other `os.register_at_fork` hooks (Python code,
/// which hands the GIL to other threads now and then) before it forks: a
/// thread that would wait for one of these locks must release the GIL first
/// (the bindings check this with the GIL held, so the answer cannot change
/// under them: the second phase runs with the GIL held too).
pub fn in_progress() -> bool {
    IN_PROGRESS.load(Ordering::Acquire)
}

/// Waits (call without the GIL) until the fork in progress, if any, is
/// over, without touching its locks: a thread parked on one of them when
/// the process forks leaves the child a lock that its unlock may hand to
/// that thread, which does not exist there (parking_lot's fair hand-off).
pub fn wait_until_forked() {
    while in_progress() {
        std::thread::sleep(std::time::Duration::from_micros(50));
    }
}

/// Records a new client for the fork hooks.
pub(crate) fn register(client: &Arc<Client>) {
    let mut registry = REGISTRY.lock();
    registry.retain(|weak| weak.strong_count() > 0);
    registry.push(Arc::downgrade(client));
}

/// Before `fork()`, first phase: call with the GIL released.
pub fn prepare_fork_slow() {
    let clients: Vec<Arc<Client>> = REGISTRY.lock().iter().filter_map(Weak::upgrade).collect();
    for client in &clients {
        client.lock_for_fork_slow();
    }
    *FORKING.lock() = clients;
}

/// Before `fork()`, second phase: call with the GIL held, after
/// [`prepare_fork_slow`].
pub fn prepare_fork_fast() {
    IN_PROGRESS.store(true, Ordering::Release);
    std::mem::forget(REGISTRY.lock());
    // Waits for signature checks running without the GIL to finish.
    std::mem::forget(crate::verify::IN_CRYPTO.write());
    crate::fetch::prepare_fork();
    for client in FORKING.lock().iter() {
        client.lock_for_fork_fast();
    }
}

/// After `fork()`, in parent and child: releases what the two phases took.
pub fn after_fork() {
    let clients = std::mem::take(&mut *FORKING.lock());
    for client in &clients {
        // SAFETY: both phases ran in this thread, for exactly these clients.
        unsafe { client.unlock_after_fork() };
    }
    crate::fetch::after_fork();
    // SAFETY: prepare_fork_fast leaked these guards in this thread.
    unsafe {
        crate::verify::IN_CRYPTO.force_unlock_write();
        REGISTRY.force_unlock();
    }
    IN_PROGRESS.store(false, Ordering::Release);
}
