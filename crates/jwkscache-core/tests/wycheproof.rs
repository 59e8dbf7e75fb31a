//! Project Wycheproof RSASSA-PKCS1-v1_5 SHA-256 vectors against the verifier.
//!
//! `acceptable` cases (tcId 8, `MissingNull`: a DigestInfo without the ASN.1
//! NULL) are rejected, as by `cryptography`: we accept only the DER encoding.

use jwkscache_core::errors::Error;
use jwkscache_core::verify::{Alg, RsaPublicKey};
use serde_json::Value;

fn run(file: &str) -> (usize, usize) {
    let path = format!("{}/../../tests/vectors/wycheproof/{file}", env!("CARGO_MANIFEST_DIR"));
    let doc: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
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
