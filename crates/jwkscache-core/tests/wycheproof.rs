//! Project Wycheproof vectors against the verifier: RSASSA-PKCS1-v1_5
//! SHA-256, ECDSA in the IEEE P1363 form (raw `r || s`, what JWS uses) on
//! P-256/SHA-256, P-384/SHA-384 and P-521/SHA-512, and Ed25519.
//!
//! RSA `acceptable` cases (tcId 8, `MissingNull`: a DigestInfo without the
//! ASN.1 NULL) are rejected, as by `cryptography`: we accept only the DER
//! encoding. The ECDSA and EdDSA files have no `acceptable` case.

use jwkscache_core::errors::Error;
use jwkscache_core::verify::{Alg, Curve, EcPublicKey, Ed25519PublicKey, PublicKey, RsaPublicKey};
use serde_json::Value;

fn load(file: &str) -> Value {
    let path = format!("{}/../../tests/vectors/wycheproof/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs every test of every group with `key` built from the group; returns
/// (verified valid cases, refused invalid cases).
fn check_all(file: &str, doc: &Value, alg: Alg, key: impl Fn(&Value) -> PublicKey) -> (usize, usize) {
    let (mut valid, mut rejected) = (0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        let key = key(group);
        for test in group["tests"].as_array().unwrap() {
            let msg = hex::decode(test["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(test["sig"].as_str().unwrap()).unwrap();
            let verdict = key.verify(alg, &msg, &sig);
            let id = &test["tcId"];
            match test["result"].as_str().unwrap() {
                "valid" => {
                    assert_eq!(verdict, Ok(()), "{file} tcId {id} must verify");
                    valid += 1;
                }
                "invalid" => {
                    assert_eq!(verdict, Err(Error::InvalidSignature), "{file} tcId {id} must be rejected");
                    rejected += 1;
                }
                other => panic!("{file} tcId {id}: unexpected result {other}"),
            }
        }
    }
    (valid, rejected)
}

fn ecdsa(file: &str, curve: Curve) -> (usize, usize) {
    let doc = load(file);
    check_all(file, &doc, curve.alg(), |group| {
        // The SEC 1 uncompressed point: 04 || x || y, each the curve's size.
        let point = hex::decode(group["publicKey"]["uncompressed"].as_str().unwrap()).unwrap();
        let (x, y) = point[1..].split_at(curve.coordinate_len());
        PublicKey::Ec(EcPublicKey::from_coordinates(curve, x, y).expect("every Wycheproof key is valid"))
    })
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    assert_eq!(ecdsa("ecdsa_secp256r1_sha256_p1363_test.json", Curve::P256), (173, 89));
}

#[test]
fn ecdsa_p384_sha384_p1363() {
    assert_eq!(ecdsa("ecdsa_secp384r1_sha384_p1363_test.json", Curve::P384), (193, 87));
}

#[cfg(not(feature = "ring"))]
#[test]
fn ecdsa_p521_sha512_p1363() {
    assert_eq!(ecdsa("ecdsa_secp521r1_sha512_p1363_test.json", Curve::P521), (231, 87));
}

/// ring has no P-521: its keys are refused with the reason, never half-used.
#[cfg(feature = "ring")]
#[test]
fn ecdsa_p521_is_refused_on_ring() {
    let doc = load("ecdsa_secp521r1_sha512_p1363_test.json");
    let point = hex::decode(doc["testGroups"][0]["publicKey"]["uncompressed"].as_str().unwrap()).unwrap();
    let (x, y) = point[1..].split_at(66);
    let err = EcPublicKey::from_coordinates(Curve::P521, x, y).unwrap_err();
    assert!(err.contains("not supported by the ring backend"), "{err}");
}

#[test]
fn ed25519() {
    let doc = load("ed25519_test.json");
    let counts = check_all("ed25519_test.json", &doc, Alg::EdDSA, |group| {
        let pk = hex::decode(group["publicKey"]["pk"].as_str().unwrap()).unwrap();
        PublicKey::Ed25519(Ed25519PublicKey::from_bytes(&pk).expect("every Wycheproof key is valid"))
    });
    assert_eq!(counts, (88, 63));
}

fn run(file: &str) -> (usize, usize) {
    let doc = load(file);
    let (mut valid, mut rejected) = (0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        let n = hex::decode(group["publicKey"]["modulus"].as_str().unwrap()).unwrap();
        let e = hex::decode(group["publicKey"]["publicExponent"].as_str().unwrap()).unwrap();
        let key = RsaPublicKey::from_components(&n, &e).expect("every Wycheproof key is in bounds");
        for test in group["tests"].as_array().unwrap() {
            let msg = hex::decode(test["msg"].as_str().unwrap()).unwrap();
            let sig = hex::decode(test["sig"].as_str().unwrap()).unwrap();
            let verdict = key.verify(Alg::RS256, &msg, &sig);
            let id = &test["tcId"];
            match test["result"].as_str().unwrap() {
                "valid" => {
                    assert_eq!(verdict, Ok(()), "{file} tcId {id} must verify");
                    valid += 1;
                }
                "invalid" | "acceptable" => {
                    assert_eq!(verdict, Err(Error::InvalidSignature), "{file} tcId {id} must be rejected");
                    rejected += 1;
                }
                other => panic!("unknown result {other}"),
            }
        }
    }
    (valid, rejected)
}

#[test]
fn rsa_2048() {
    assert_eq!(run("rsa_signature_2048_sha256_test.json"), (9, 250));
}

#[test]
fn rsa_3072() {
    assert_eq!(run("rsa_signature_3072_sha256_test.json"), (8, 251));
}

#[test]
fn rsa_4096() {
    assert_eq!(run("rsa_signature_4096_sha256_test.json"), (7, 251));
}
