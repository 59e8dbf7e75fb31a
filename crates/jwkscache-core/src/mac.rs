//! HMAC-SHA256 and SHA-256 for the shared tier's entries (`shared.rs`), from
//! the crypto backend `verify.rs` uses: aws-lc-rs (default) or ring (feature
//! `ring`). With `verify.rs`, the only file that names a crypto crate.

#[cfg(not(feature = "ring"))]
use aws_lc_rs::{digest, hmac};
#[cfg(feature = "ring")]
use ring::{digest, hmac};

/// Length of an HMAC-SHA256 tag and of a SHA-256 digest, in bytes.
pub const TAG_LEN: usize = 32;

/// HMAC-SHA256 of `parts` (concatenated) under `secret`.
pub fn sign(secret: &[u8], parts: &[&[u8]]) -> [u8; TAG_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    for part in parts {
        context.update(part);
    }
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(context.sign().as_ref());
    tag
}

/// True when `tag` is the HMAC-SHA256 of `parts` under `secret` (compared in
/// constant time).
pub fn verify(secret: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let message: Vec<u8> = parts.concat();
    hmac::verify(&key, &message, tag).is_ok()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; TAG_LEN] {
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// Lower-case hex of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 15)]));
    }
    text
}

/// Bytes from lower-case hex, `None` for anything else.
pub fn from_hex(text: &[u8]) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if text.len() % 2 != 0 {
        return None;
    }
    text.chunks(2).map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4231_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let tag = sign(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(to_hex(&tag), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        assert!(verify(b"Jefe", &[b"what do ya want for nothing?"], &tag));
        assert!(!verify(b"Jeff", &[b"what do ya want for nothing?"], &tag));
        assert!(!verify(b"Jefe", &[b"what do ya want for nothing?"], &tag[..31]));
    }

    #[test]
    fn sha256_and_hex() {
        assert_eq!(
            to_hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(from_hex(b"00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(from_hex(b"0"), None);
        assert_eq!(from_hex(b"0G"), None);
        assert_eq!(from_hex(b"AB"), None);
    }
}
