//! The signature check, behind one small interface.
//!
//! Everything above this module sees an [`RsaPublicKey`] that was validated
//! once, when the JWK Set was parsed, and an [`Alg`] from the allow-list.
//! Two backends, chosen by cargo feature (see docs/performance.md):
//! - `aws-lc-rs` (default): the key is parsed once per algorithm and kept
//!   (`ParsedPublicKey`), so a verify is the RSA operation alone.
//! - `ring`: re-derives the key's Montgomery constants on every verify.

use std::fmt;
#[cfg(not(feature = "ring"))]
use std::sync::OnceLock;

use parking_lot::RwLock;

#[cfg(not(feature = "ring"))]
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
#[cfg(feature = "ring")]
use ring::signature::{self, RsaPublicKeyComponents};

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!("enable one crypto backend: feature `aws-lc-rs` (default) or `ring`");

/// The backend compiled in, for reports.
pub const BACKEND: &str = if cfg!(feature = "ring") { "ring" } else { "aws-lc-rs" };

use crate::errors::{Error, Result};

/// Held shared while a signature check runs in the crypto library, and
/// exclusively across `fork()` (fork.rs): aws-lc takes a key's internal lock
/// during a verify, and a child that inherited it held by another thread
/// would block on its first verify. A verify never waits for the GIL, so the
/// fork hook may take this with the GIL held.
pub(crate) static IN_CRYPTO: RwLock<()> = RwLock::new(());

/// Smallest RSA modulus accepted, in bits (NIST SP 800-131A; ring's floor).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (bounds the cost of one verify).
pub const MAX_RSA_BITS: usize = 8192;

/// A JWS algorithm this crate can verify: the RSA family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
}

impl Alg {
    /// Every algorithm the verifier implements.
    pub const ALL: [Alg; 6] = [Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512];

    /// The algorithm named `name` (case-sensitive, as in RFC 7518), if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The RFC 7518 name.
    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::RS384 => "RS384",
            Alg::RS512 => "RS512",
            Alg::PS256 => "PS256",
            Alg::PS384 => "PS384",
            Alg::PS512 => "PS512",
        }
    }

    fn params(self) -> &'static signature::RsaParameters {
        match self {
            Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
        }
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An RSA public key, checked once and ready to verify.
pub struct RsaPublicKey {
    n: Vec<u8>,
    e: Vec<u8>,
    bits: usize,
    /// The backend's parsed key, one per algorithm, built on first use.
    #[cfg(not(feature = "ring"))]
    parsed: [OnceLock<Option<ParsedPublicKey>>; 6],
}

impl PartialEq for RsaPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.e == other.e
    }
}

impl Eq for RsaPublicKey {}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublicKey").field("bits", &self.bits).finish_non_exhaustive()
    }
}

impl RsaPublicKey {
    /// A key from its big-endian modulus and exponent.
    ///
    /// Leading zero bytes are tolerated (some issuers encode `n` as a DER
    /// INTEGER); the modulus must be 2048..=8192 bits and odd, the exponent
    /// odd and in 3..2^33 (ring's bounds).
    pub fn from_components(n: &[u8], e: &[u8]) -> std::result::Result<Self, String> {
        let n = strip_leading_zeros(n);
        let e = strip_leading_zeros(e);
        let bits = bit_length(n);
        if bits < MIN_RSA_BITS {
            return Err(format!("RSA modulus of {bits} bits is under the {MIN_RSA_BITS}-bit minimum"));
        }
        if bits > MAX_RSA_BITS {
            return Err(format!("RSA modulus of {bits} bits is over the {MAX_RSA_BITS}-bit maximum"));
        }
        if n.last().is_some_and(|b| b & 1 == 0) {
            return Err("RSA modulus is even".to_owned());
        }
        let exponent_ok = !e.is_empty()
            && e.len() <= 5
            && e.last().is_some_and(|b| b & 1 == 1)
            && (e.len() > 1 || e[0] >= 3)
            && (e.len() < 5 || e[0] <= 1);
        if !exponent_ok {
            return Err("RSA public exponent is out of range (odd, 3 to 2^33-1)".to_owned());
        }
        Ok(Self {
            n: n.to_vec(),
            e: e.to_vec(),
            bits,
            #[cfg(not(feature = "ring"))]
            parsed: Default::default(),
        })
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// Big-endian modulus, without leading zeros.
    pub fn modulus(&self) -> &[u8] {
        &self.n
    }

    /// Big-endian public exponent, without leading zeros.
    pub fn exponent(&self) -> &[u8] {
        &self.e
    }

    /// Checks `signature` over `message` with `alg`; `Ok(())` or
    /// [`Error::InvalidSignature`], never a bool.
    pub fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> Result<()> {
        let _in_crypto = IN_CRYPTO.read();
        #[cfg(feature = "ring")]
        let verdict =
            RsaPublicKeyComponents { n: &self.n, e: &self.e }.verify(alg.params(), message, signature);
        #[cfg(not(feature = "ring"))]
        let verdict = match self.parsed(alg) {
            Some(key) => key.verify_sig(message, signature),
            None => return Err(Error::InvalidSignature),
        };
        verdict.map_err(|_| Error::InvalidSignature)
    }

    /// Builds the backend's parsed key for each of `algs` now, so the first
    /// token pays nothing extra and no lazy initialisation can be caught
    /// half-done by a `fork()`.
    pub fn prepare(&self, algs: &[Alg]) {
        #[cfg(not(feature = "ring"))]
        for &alg in algs {
            self.parsed(alg);
        }
        #[cfg(feature = "ring")]
        let _ = algs;
    }

    #[cfg(not(feature = "ring"))]
    fn parsed(&self, alg: Alg) -> Option<&ParsedPublicKey> {
        self.parsed[alg as usize]
            .get_or_init(|| {
                RsaPublicKeyComponents { n: &self.n, e: &self.e }.to_parsed_public_key(alg.params()).ok()
            })
            .as_ref()
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn bit_length(be: &[u8]) -> usize {
    match be.first() {
        None => 0,
        Some(&first) => (be.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alg_names_round_trip() {
        for alg in Alg::ALL {
            assert_eq!(Alg::from_name(alg.name()), Some(alg));
        }
        assert_eq!(Alg::from_name("rs256"), None);
        assert_eq!(Alg::from_name("none"), None);
        assert_eq!(Alg::from_name("HS256"), None);
    }

    #[test]
    fn key_bounds() {
        let mut n = vec![0xff; 256];
        n[255] = 0xfd;
        assert_eq!(RsaPublicKey::from_components(&n, &[1, 0, 1]).unwrap().bits(), 2048);
        let mut padded = vec![0, 0];
        padded.extend_from_slice(&n);
        assert_eq!(RsaPublicKey::from_components(&padded, &[1, 0, 1]).unwrap().bits(), 2048);
        assert!(RsaPublicKey::from_components(&n[1..], &[1, 0, 1]).unwrap_err().contains("2040 bits"));
        assert!(RsaPublicKey::from_components(&vec![0xff; 1025], &[3]).unwrap_err().contains("over"));
        assert!(RsaPublicKey::from_components(&n, &[1]).is_err());
        assert!(RsaPublicKey::from_components(&n, &[2]).is_err());
        assert!(RsaPublicKey::from_components(&n, &[]).is_err());
        assert!(RsaPublicKey::from_components(&n, &[3]).is_ok());
        let mut even = n.clone();
        even[255] = 0xfe;
        assert!(RsaPublicKey::from_components(&even, &[3]).unwrap_err().contains("even"));
    }
}
