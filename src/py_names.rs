//! Object member names kept as Python strs between decodes.
//!
//! A service sees the same claim names in token after token (`kubernetes.io`,
//! `namespace`, `scope`, ...). Reusing the str saves its allocation, its
//! UTF-8 decoding and its hash (a str keeps its hash once computed). The
//! table is small and fixed (a name replaces whatever held its slot), short
//! names only, so hostile names cost nothing but misses.

use parking_lot::{Mutex, MutexGuard};
use pyo3::prelude::*;
use pyo3::types::PyString;

const SLOTS: usize = 256;
const MAX_NAME_BYTES: usize = 32;

type Table = [Option<(Box<str>, Py<PyString>)>; SLOTS];

static TABLE: Mutex<Table> = Mutex::new([const { None }; SLOTS]);

/// The table, for one build of Python objects; or nothing, when another
/// build holds it (another thread, or a finalizer that decodes while this
/// build allocates): that build then makes its strs afresh.
pub struct Names(Option<MutexGuard<'static, Table>>);

impl Names {
    /// Takes the table if it is free (never waits).
    pub fn take() -> Self {
        Self(TABLE.try_lock())
    }

    /// `name` as a Python str, reused when the table holds it.
    pub fn get<'py>(&mut self, py: Python<'py>, name: &str) -> Bound<'py, PyString> {
        let Some(table) = self.0.as_mut().filter(|_| name.len() <= MAX_NAME_BYTES) else {
            return PyString::new(py, name);
        };
        let slot = &mut table[slot_of(name)];
        if let Some((held, string)) = slot {
            if **held == *name {
                return string.bind(py).clone();
            }
        }
        let string = PyString::new(py, name);
        *slot = Some((name.into(), string.clone().unbind()));
        string
    }
}

/// FNV-1a over the name's bytes, folded to a slot.
fn slot_of(name: &str) -> usize {
    let hash =
        name.bytes().fold(0x811c_9dc5_u32, |hash, byte| (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193));
    (hash as usize) % SLOTS
}
