//! A bearer token read from a file that its owner rewrites: a pod's
//! service-account token, which the kubelet replaces at 80% of its lifetime.
//!
//! As client-go does: the file is re-read when the token in hand is older
//! than [`REREAD_AFTER`], and at once after the server answers 401. A read
//! that fails while a token is in hand keeps that token (the kubelet swaps
//! the file atomically, but an operator may not).

use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::errors::{Error, Result};

/// How long a token read from the file is used before the file is read again.
pub const REREAD_AFTER: Duration = Duration::from_secs(60);
/// Largest token file accepted (a service-account JWT is about 1 KB).
pub const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// A bearer token file and the token last read from it.
pub struct TokenFile {
    path: String,
    last: Mutex<Option<(String, Instant)>>,
}

impl std::fmt::Debug for TokenFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token itself.
        f.debug_struct("TokenFile").field("path", &self.path).finish_non_exhaustive()
    }
}

impl TokenFile {
    /// Reads `path` now: a missing, empty, oversized or non-token file fails
    /// here, at construction, rather than on the first fetch.
    pub fn open(path: &str, now: Instant) -> Result<Self> {
        let token = read(path)?;
        Ok(Self { path: path.to_owned(), last: Mutex::new(Some((token, now))) })
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The token to send: the one in hand, or the file's if that one was read
    /// [`REREAD_AFTER`] ago or more.
    pub fn current(&self, now: Instant) -> Result<String> {
        let mut last = self.last.lock();
        match &*last {
            Some((token, read_at)) if now.saturating_duration_since(*read_at) < REREAD_AFTER => {
                Ok(token.clone())
            }
            _ => Self::refresh(&self.path, &mut last, now),
        }
    }

    /// Reads the file again now (after a 401), whatever the token's age.
    pub fn reload(&self, now: Instant) -> Result<String> {
        Self::refresh(&self.path, &mut self.last.lock(), now)
    }

    fn refresh(path: &str, last: &mut Option<(String, Instant)>, now: Instant) -> Result<String> {
        match (read(path), last.as_ref()) {
            (Ok(token), _) => {
                *last = Some((token.clone(), now));
                Ok(token)
            }
            // Keep the token in hand; the next call tries the file again.
            (Err(_), Some((token, _))) => Ok(token.clone()),
            (Err(error), None) => Err(error),
        }
    }
}

/// The token in `path`: surrounding whitespace trimmed, then non-empty and
/// visible ASCII only (what an `Authorization` header may carry).
fn read(path: &str) -> Result<String> {
    use std::io::Read;
    let why = |reason: String| Error::Config(format!("cannot read the bearer token file {path:?}: {reason}"));
    let file = std::fs::File::open(path).map_err(|e| why(e.to_string()))?;
    let mut bytes = Vec::new();
    file.take(MAX_TOKEN_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| why(e.to_string()))?;
    if bytes.len() as u64 > MAX_TOKEN_FILE_BYTES {
        return Err(why(format!("it is over the {MAX_TOKEN_FILE_BYTES}-byte limit")));
    }
    let token = bytes.trim_ascii();
    if token.is_empty() {
        return Err(why("it is empty".into()));
    }
    if !token.iter().all(u8::is_ascii_graphic) {
        return Err(why("it holds characters a bearer token cannot have".into()));
    }
    Ok(String::from_utf8_lossy(token).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TempFile(std::path::PathBuf);

    impl TempFile {
        fn new(name: &str, content: &[u8]) -> Self {
            let path = std::env::temp_dir().join(format!("jwkscache-{}-{name}", std::process::id()));
            std::fs::write(&path, content).unwrap();
            Self(path)
        }

        fn path(&self) -> &str {
            self.0.to_str().unwrap()
        }

        fn write(&self, content: &[u8]) {
            std::fs::write(&self.0, content).unwrap();
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn the_file_is_read_again_after_a_minute_or_on_demand() {
        let file = TempFile::new("rotate", b"first\n");
        let start = Instant::now();
        let tokens = TokenFile::open(file.path(), start).unwrap();
        file.write(b"second");
        assert_eq!(tokens.current(start + Duration::from_secs(59)).unwrap(), "first");
        assert_eq!(tokens.current(start + REREAD_AFTER).unwrap(), "second");
        file.write(b"third");
        assert_eq!(tokens.current(start + REREAD_AFTER + Duration::from_secs(1)).unwrap(), "second");
        assert_eq!(tokens.reload(start + REREAD_AFTER + Duration::from_secs(2)).unwrap(), "third");
    }

    #[test]
    fn a_failed_re_read_keeps_the_token_in_hand() {
        let file = TempFile::new("vanish", b"kept");
        let start = Instant::now();
        let tokens = TokenFile::open(file.path(), start).unwrap();
        std::fs::remove_file(&file.0).unwrap();
        assert_eq!(tokens.current(start + REREAD_AFTER * 2).unwrap(), "kept");
        assert_eq!(tokens.reload(start + REREAD_AFTER * 3).unwrap(), "kept");
        file.write(b"back");
        assert_eq!(tokens.current(start + REREAD_AFTER * 3).unwrap(), "back");
    }

    #[test]
    fn bad_files_fail_at_open_with_the_reason() {
        let missing = std::env::temp_dir().join("jwkscache-no-such-token-file");
        let err = TokenFile::open(missing.to_str().unwrap(), Instant::now()).unwrap_err();
        assert!(matches!(&err, Error::Config(m) if m.contains("no-such-token-file")), "{err:?}");
        for (name, content, needle) in [
            ("empty", &b" \n"[..], "empty"),
            ("spaces", b"two words", "cannot have"),
            ("newline", b"a\nb", "cannot have"),
            ("big", &vec![b'a'; 70_000][..], "limit"),
        ] {
            let file = TempFile::new(name, content);
            let err = TokenFile::open(file.path(), Instant::now()).unwrap_err();
            assert!(matches!(&err, Error::Config(m) if m.contains(needle)), "{name}: {err:?}");
        }
    }
}
