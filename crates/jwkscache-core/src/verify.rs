//! The signature check, behind one small interface.
//!
//! Everything above this module sees a [`PublicKey`] (RSA, EC P-256/384/521
//! or Ed25519) that was validated once, when the JWK Set was parsed, and an
//! [`Alg`] from the allow-list. An EC key verifies the one algorithm of its
//! curve, an Ed25519 key EdDSA, an RSA key the RS and PS families.
//! Two backends, chosen by cargo feature (see docs/performance.md):
//! - `aws-lc-rs` (default): the key is parsed once (per algorithm for RSA)
//!   and kept (`ParsedPublicKey`), so a verify is the signature operation alone.
//! - `ring`: re-derives the key on every verify (RSA's Montgomery constants,
//!   the EC point's validation); it has no P-521, so ES512 keys are skipped.

use std::fmt;
#[cfg(not(feature = "ring"))]
use std::sync::OnceLock;

use parking_lot::RwLock;

#[cfg(not(feature = "ring"))]
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents, VerificationAlgorithm};
#[cfg(feature = "ring")]
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm};

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

/// JWS algorithm names PyJWT knows that no JWK Set can serve a verifier
/// (`none`, and HMAC, whose key is a shared secret): an allow-list may name
/// them, as PyJWT's does, but a token using one is always refused.
pub const UNSERVABLE: [&str; 4] = ["none", "HS256", "HS384", "HS512"];

/// A JWS algorithm this crate can verify: RSA, ECDSA and EdDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

impl Alg {
    /// Every algorithm the verifier implements.
    pub const ALL: [Alg; 10] = [
        Alg::RS256,
        Alg::RS384,
        Alg::RS512,
        Alg::PS256,
        Alg::PS384,
        Alg::PS512,
        Alg::ES256,
        Alg::ES384,
        Alg::ES512,
        Alg::EdDSA,
    ];

    /// The RSA algorithms (what an RSA key without an `alg` may verify).
    pub const RSA: [Alg; 6] = [Alg::RS256, Alg::RS384, Alg::RS512, Alg::PS256, Alg::PS384, Alg::PS512];

    /// The algorithm named `name` (case-sensitive, as in RFC 7518), if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// True for the RS and PS families.
    pub fn is_rsa(self) -> bool {
        Self::RSA.contains(&self)
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
            Alg::ES256 => "ES256",
            Alg::ES384 => "ES384",
            Alg::ES512 => "ES512",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// The RSA parameters; `None` for a non-RSA algorithm.
    fn params(self) -> Option<&'static signature::RsaParameters> {
        Some(match self {
            Alg::RS256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Alg::RS384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Alg::RS512 => &signature::RSA_PKCS1_2048_8192_SHA512,
            Alg::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
            Alg::PS384 => &signature::RSA_PSS_2048_8192_SHA384,
            Alg::PS512 => &signature::RSA_PSS_2048_8192_SHA512,
            Alg::ES256 | Alg::ES384 | Alg::ES512 | Alg::EdDSA => return None,
        })
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
        let Some(params) = alg.params() else { return Err(wrong_alg("an RSA key", &Self::RSA_ALGS, alg)) };
        let _in_crypto = IN_CRYPTO.read();
        #[cfg(feature = "ring")]
        let verdict = RsaPublicKeyComponents { n: &self.n, e: &self.e }.verify(params, message, signature);
        #[cfg(not(feature = "ring"))]
        let verdict = match self.parsed(alg, params) {
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
            if let Some(params) = alg.params() {
                self.parsed(alg, params);
            }
        }
        #[cfg(feature = "ring")]
        let _ = algs;
    }

    #[cfg(not(feature = "ring"))]
    fn parsed(&self, alg: Alg, params: &'static signature::RsaParameters) -> Option<&ParsedPublicKey> {
        // The RSA algorithms come first in `Alg`: their discriminants index `parsed`.
        self.parsed[alg as usize]
            .get_or_init(|| {
                RsaPublicKeyComponents { n: &self.n, e: &self.e }.to_parsed_public_key(params).ok()
            })
            .as_ref()
    }

    const RSA_ALGS: [Alg; 6] = Alg::RSA;
}

/// A named elliptic curve of a JWK `crv`, bound to its one JWS algorithm
/// (RFC 7518 §3.4: ES256 is P-256 with SHA-256, and so on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    /// The curve of a JWK `crv` value, if it is one of the three NIST curves.
    pub fn from_name(crv: &str) -> Option<Self> {
        match crv {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            "P-521" => Some(Self::P521),
            _ => None,
        }
    }

    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// The one algorithm a key on this curve verifies.
    pub fn alg(self) -> Alg {
        match self {
            Self::P256 => Alg::ES256,
            Self::P384 => Alg::ES384,
            Self::P521 => Alg::ES512,
        }
    }

    /// Bytes of one coordinate, and of `r` and of `s` in a JWS signature.
    pub fn coordinate_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    /// Size of the curve's order in bits.
    pub fn bits(self) -> usize {
        match self {
            Self::P256 => 256,
            Self::P384 => 384,
            Self::P521 => 521,
        }
    }

    /// The backend's fixed-size (`r || s`) verifier, if it has one.
    #[cfg_attr(not(feature = "ring"), allow(clippy::unnecessary_wraps))] // ring has no P-521
    fn verifier(self) -> std::result::Result<&'static dyn VerificationAlgorithm, String> {
        match self {
            Self::P256 => Ok(&signature::ECDSA_P256_SHA256_FIXED),
            Self::P384 => Ok(&signature::ECDSA_P384_SHA384_FIXED),
            #[cfg(not(feature = "ring"))]
            Self::P521 => Ok(&signature::ECDSA_P521_SHA512_FIXED),
            #[cfg(feature = "ring")]
            Self::P521 => Err("ES512 (P-521) is not supported by the ring backend".to_owned()),
        }
    }
}

/// An EC public key on a NIST curve, checked once.
pub struct EcPublicKey {
    curve: Curve,
    /// SEC 1 uncompressed point: `0x04 || x || y`.
    point: Vec<u8>,
    #[cfg(feature = "ring")]
    verifier: &'static dyn VerificationAlgorithm,
    /// The point, parsed and checked to be on the curve (aws-lc-rs).
    #[cfg(not(feature = "ring"))]
    parsed: ParsedPublicKey,
}

impl EcPublicKey {
    /// A key from its JWK coordinates, each exactly the curve's size
    /// (RFC 7518 §6.2.1.2); on aws-lc-rs the point must be on the curve.
    pub fn from_coordinates(curve: Curve, x: &[u8], y: &[u8]) -> std::result::Result<Self, String> {
        let len = curve.coordinate_len();
        for (name, value) in [("x", x), ("y", y)] {
            if value.len() != len {
                return Err(format!(
                    "\"{name}\" is {} bytes, a {} coordinate is {len}",
                    value.len(),
                    curve.name()
                ));
            }
        }
        let verifier = curve.verifier()?;
        let mut point = Vec::with_capacity(1 + 2 * len);
        point.push(4);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        #[cfg(not(feature = "ring"))]
        let parsed = ParsedPublicKey::new(verifier, &point)
            .map_err(|e| format!("the point is not a valid {} public key ({e})", curve.name()))?;
        Ok(Self {
            curve,
            point,
            #[cfg(feature = "ring")]
            verifier,
            #[cfg(not(feature = "ring"))]
            parsed,
        })
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// Checks a JWS ECDSA signature: `r || s`, each the curve's size, and
    /// nothing else (a DER-encoded signature is refused).
    pub fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> Result<()> {
        if alg != self.curve.alg() {
            return Err(wrong_alg(&format!("an EC {} key", self.curve.name()), &[self.curve.alg()], alg));
        }
        if signature.len() != 2 * self.curve.coordinate_len() {
            return Err(Error::InvalidSignature);
        }
        let _in_crypto = IN_CRYPTO.read();
        #[cfg(not(feature = "ring"))]
        let verdict = self.parsed.verify_sig(message, signature);
        #[cfg(feature = "ring")]
        let verdict = UnparsedPublicKey::new(self.verifier, &self.point).verify(message, signature);
        verdict.map_err(|_| Error::InvalidSignature)
    }
}

impl PartialEq for EcPublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.curve == other.curve && self.point == other.point
    }
}

impl Eq for EcPublicKey {}

impl fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EcPublicKey").field("curve", &self.curve).finish_non_exhaustive()
    }
}

/// Bytes of an Ed25519 public key (RFC 8032).
pub const ED25519_KEY_LEN: usize = 32;

/// An Ed25519 public key (JWK `kty` OKP, `crv` Ed25519: RFC 8037).
pub struct Ed25519PublicKey {
    bytes: [u8; ED25519_KEY_LEN],
    #[cfg(not(feature = "ring"))]
    parsed: ParsedPublicKey,
}

impl Ed25519PublicKey {
    /// A key from its 32-byte `x`.
    pub fn from_bytes(x: &[u8]) -> std::result::Result<Self, String> {
        let bytes: [u8; ED25519_KEY_LEN] = x
            .try_into()
            .map_err(|_| format!("\"x\" is {} bytes, an Ed25519 key is {ED25519_KEY_LEN}", x.len()))?;
        #[cfg(not(feature = "ring"))]
        let parsed = ParsedPublicKey::new(&signature::ED25519, bytes)
            .map_err(|e| format!("\"x\" is not a valid Ed25519 public key ({e})"))?;
        Ok(Self {
            bytes,
            #[cfg(not(feature = "ring"))]
            parsed,
        })
    }

    /// Checks an EdDSA signature (64 bytes).
    pub fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> Result<()> {
        if alg != Alg::EdDSA {
            return Err(wrong_alg("an Ed25519 key", &[Alg::EdDSA], alg));
        }
        let _in_crypto = IN_CRYPTO.read();
        #[cfg(not(feature = "ring"))]
        let verdict = self.parsed.verify_sig(message, signature);
        #[cfg(feature = "ring")]
        let verdict = UnparsedPublicKey::new(&signature::ED25519, &self.bytes).verify(message, signature);
        verdict.map_err(|_| Error::InvalidSignature)
    }
}

impl PartialEq for Ed25519PublicKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Ed25519PublicKey {}

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ed25519PublicKey").finish_non_exhaustive()
    }
}

/// A verification key of any supported type.
// Held once per key behind an `Arc<Jwk>`: boxing the RSA variant would only
// add a pointer chase to every RSA verify.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq, Eq)]
pub enum PublicKey {
    /// `kty` RSA.
    Rsa(RsaPublicKey),
    /// `kty` EC, on P-256, P-384 or P-521.
    Ec(EcPublicKey),
    /// `kty` OKP, `crv` Ed25519.
    Ed25519(Ed25519PublicKey),
}

impl PublicKey {
    /// Checks `signature` over `message` with `alg`, which must be one the
    /// key verifies ([`Error::InvalidAlgorithm`] otherwise); `Ok(())` or
    /// [`Error::InvalidSignature`], never a bool.
    pub fn verify(&self, alg: Alg, message: &[u8], signature: &[u8]) -> Result<()> {
        match self {
            Self::Rsa(key) => key.verify(alg, message, signature),
            Self::Ec(key) => key.verify(alg, message, signature),
            Self::Ed25519(key) => key.verify(alg, message, signature),
        }
    }

    /// The algorithms this key can verify.
    pub fn algorithms(&self) -> &'static [Alg] {
        match self {
            Self::Rsa(_) => &Alg::RSA,
            Self::Ec(key) => match key.curve {
                Curve::P256 => &[Alg::ES256],
                Curve::P384 => &[Alg::ES384],
                Curve::P521 => &[Alg::ES512],
            },
            Self::Ed25519(_) => &[Alg::EdDSA],
        }
    }

    /// The JWK `kty`.
    pub fn kty(&self) -> &'static str {
        match self {
            Self::Rsa(_) => "RSA",
            Self::Ec(_) => "EC",
            Self::Ed25519(_) => "OKP",
        }
    }

    /// Modulus bits (RSA) or the curve's size (EC, Ed25519: 256).
    pub fn bits(&self) -> usize {
        match self {
            Self::Rsa(key) => key.bits(),
            Self::Ec(key) => key.curve.bits(),
            Self::Ed25519(_) => 256,
        }
    }

    /// The RSA key, if this is one.
    pub fn as_rsa(&self) -> Option<&RsaPublicKey> {
        match self {
            Self::Rsa(key) => Some(key),
            _ => None,
        }
    }

    /// Builds the backend's parsed key for each of `algs` now (RSA; EC and
    /// Ed25519 keys are parsed when built).
    pub fn prepare(&self, algs: &[Alg]) {
        if let Self::Rsa(key) = self {
            key.prepare(algs);
        }
    }
}

/// The error for a token whose `alg` the key cannot verify.
fn wrong_alg(key: &str, verifies: &[Alg], alg: Alg) -> Error {
    let names: Vec<&str> = verifies.iter().map(|a| a.name()).collect();
    Error::InvalidAlgorithm(format!(
        "The token's alg {alg} does not fit its key: {key} verifies {}",
        names.join(", ")
    ))
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
        assert_eq!(Alg::from_name("ES256K"), None);
        assert!(UNSERVABLE.iter().all(|name| Alg::from_name(name).is_none()));
    }

    #[test]
    fn ec_keys_are_bound_to_their_curve() {
        // RFC 7515 A.3's P-256 key.
        let b64 =
            |s: &str| base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s).unwrap();
        let x = b64("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU");
        let y = b64("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0");
        let key = PublicKey::Ec(EcPublicKey::from_coordinates(Curve::P256, &x, &y).unwrap());
        assert_eq!(key.algorithms(), &[Alg::ES256]);
        assert_eq!((key.kty(), key.bits()), ("EC", 256));
        for alg in [Alg::ES384, Alg::ES512, Alg::RS256, Alg::EdDSA] {
            assert!(
                matches!(key.verify(alg, b"m", &[0; 64]), Err(Error::InvalidAlgorithm(m)) if m.contains("P-256"))
            );
        }
        // Raw r || s of the curve's size only: 63, 65 or DER-sized lengths are refused.
        for len in [0, 63, 65, 70, 72] {
            assert_eq!(key.verify(Alg::ES256, b"m", &vec![1; len]), Err(Error::InvalidSignature));
        }
        assert!(EcPublicKey::from_coordinates(Curve::P256, &x[1..], &y).unwrap_err().contains("31 bytes"));
        assert!(EcPublicKey::from_coordinates(Curve::P384, &x, &y).unwrap_err().contains("48"));
        #[cfg(not(feature = "ring"))]
        {
            let mut off_curve = y.clone();
            off_curve[31] ^= 1;
            assert!(EcPublicKey::from_coordinates(Curve::P256, &x, &off_curve)
                .unwrap_err()
                .contains("not a valid"));
        }
        #[cfg(feature = "ring")]
        assert!(EcPublicKey::from_coordinates(Curve::P521, &[0; 66], &[0; 66]).unwrap_err().contains("ring"));
    }

    #[test]
    fn ed25519_keys_verify_eddsa_only() {
        let key = PublicKey::Ed25519(Ed25519PublicKey::from_bytes(&[0x3b; 32]).unwrap());
        assert!(matches!(key.verify(Alg::ES256, b"m", &[0; 64]), Err(Error::InvalidAlgorithm(_))));
        assert_eq!(key.verify(Alg::EdDSA, b"m", &[0; 64]), Err(Error::InvalidSignature));
        assert!(Ed25519PublicKey::from_bytes(&[0; 31]).unwrap_err().contains("31 bytes"));
        let rsa = PublicKey::Rsa(RsaPublicKey::from_components(&[0xff; 256], &[3]).unwrap());
        assert!(
            matches!(rsa.verify(Alg::EdDSA, b"m", &[0; 256]), Err(Error::InvalidAlgorithm(m)) if m.contains("RSA"))
        );
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
