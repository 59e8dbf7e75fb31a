//! Micro-benchmarks of the decode pipeline, one per stage, so a regression
//! shows where it happened (docs/benchmarks-rust.md).
//!
//! Inputs are built here, from the repo's test vectors, before any timing: a
//! 3-key RSA JWK Set shaped like the one an EKS cluster serves, and an RS256
//! token shaped like an EKS service-account token (about 1.3 KB, 15 claims,
//! nested `kubernetes.io` object, `aud` list), signed with Kubernetes' test
//! RSA-2048 key by the crypto backend compiled in (aws-lc-rs, or ring with
//! `--features ring`).
//!
//! `verify::es256_warm_key` and `verify::eddsa_warm_key` check RFC 7515 A.3
//! and RFC 8037 A.4's published signatures, next to `rs256_warm_key`.
//!
//! Run: `cargo bench -p jwkscache-core --bench stages`.

use std::sync::{Arc, LazyLock};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use divan::{black_box, Bencher};
use jwkscache_core::claims::{Claims, Validation};
use jwkscache_core::jwk::{Jwk, JwkSet};
use jwkscache_core::jws::{Token, Verified, DEFAULT_MAX_TOKEN_BYTES};
use jwkscache_core::verify::{Alg, RsaPublicKey};
use jwkscache_core::{jws as pipeline, Result};
use serde_json::{json, Value};

#[cfg(not(feature = "ring"))]
use aws_lc_rs::{rand::SystemRandom, signature};
#[cfg(feature = "ring")]
use ring::{rand::SystemRandom, signature};

const K8S_KEYS: &str = include_str!("../../../tests/vectors/kubernetes/serviceaccount_test_keys.json");
const K8S_METADATA: &str = include_str!("../../../tests/vectors/kubernetes/openid_metadata_expected.json");
const RFC7517_A1: &str = include_str!("../../../tests/vectors/rfc/rfc7517_a1_public_jwks.json");
const RFC7520_KEY: &str =
    include_str!("../../../tests/vectors/jose-cookbook/rfc7520_3_3.rsa_public_key.json");
const RFC7515_A3: &str = include_str!("../../../tests/vectors/rfc/rfc7515_a3_es256_jws.json");
const RFC8037_A4: &str = include_str!("../../../tests/vectors/rfc/rfc8037_a4_ed25519_jws.json");

const ALLOWED: &[Alg] = &[Alg::RS256];
/// 2026-01-01T00:00:00Z: the token's `iat`; validation runs ten minutes later.
const IAT: i64 = 1_767_225_600;
const NOW: f64 = (IAT + 600) as f64;
const ISSUER: &str = "https://oidc.eks.eu-west-1.amazonaws.com/id/5C1D3E9F0A7B2468ACE13579BDF02468";

/// Everything the benchmarks read, built once before timing starts.
struct Inputs {
    jwks: Vec<u8>,
    set: JwkSet,
    token: String,
    /// The token's payload, decoded (what `Claims::parse` sees).
    payload: Vec<u8>,
    claims: Claims,
    validation: Validation,
    /// The signing input and decoded signature, for the bare RSA check.
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

static INPUTS: LazyLock<Inputs> = LazyLock::new(Inputs::build);

/// A published JWS of another algorithm, its key parsed as from a JWK Set.
struct Published {
    key: Arc<Jwk>,
    alg: Alg,
    signing_input: Vec<u8>,
    signature: Vec<u8>,
}

impl Published {
    fn load(text: &str, alg: Alg) -> Self {
        let vector = vector(text);
        let mut jwk = vector["jwk"].clone();
        jwk.as_object_mut().expect("a JWK").remove("d");
        let set = JwkSet::from_value(&json!({ "keys": [jwk] }), &[alg]).expect("the key parses");
        let compact = vector["compact"].as_str().expect("compact");
        let (signing_input, signature) = compact.rsplit_once('.').expect("three segments");
        Self {
            key: Arc::clone(&set.keys()[0]),
            alg,
            signing_input: signing_input.as_bytes().to_vec(),
            signature: URL_SAFE_NO_PAD.decode(signature).expect("base64url"),
        }
    }

    fn verify(&self) {
        self.key.key.verify(self.alg, black_box(&self.signing_input), black_box(&self.signature)).unwrap();
    }
}

/// RFC 7515 A.3 (ES256, P-256) and RFC 8037 A.4 (EdDSA, Ed25519).
static ES256: LazyLock<Published> = LazyLock::new(|| Published::load(RFC7515_A3, Alg::ES256));
static EDDSA: LazyLock<Published> = LazyLock::new(|| Published::load(RFC8037_A4, Alg::EdDSA));

fn vector(text: &str) -> Value {
    serde_json::from_str(text).expect("test vector is JSON")
}

impl Inputs {
    fn build() -> Self {
        let k8s = vector(K8S_KEYS);
        let kid = k8s["rsa"]["kid"].as_str().expect("kid").to_owned();

        // The JWKS: two other RSA keys, then the signing key (last, so the
        // kid lookup walks the whole set), each in the shape EKS serves.
        let served = vector(vector(K8S_METADATA)["jwks_exact"].as_str().expect("jwks_exact"));
        let signing_n = served["keys"][0]["n"].clone();
        let rfc7517 = vector(RFC7517_A1)["jwks"]["keys"][1]["n"].clone();
        let rfc7520 = vector(RFC7520_KEY)["n"].clone();
        let keys: Vec<Value> = [
            ("2011-04-29", rfc7517),
            ("bilbo.baggins@hobbiton.example", rfc7520),
            (&kid, signing_n),
        ]
        .into_iter()
        .map(|(kid, n)| json!({"kty": "RSA", "e": "AQAB", "use": "sig", "kid": kid, "alg": "RS256", "n": n}))
        .collect();
        let jwks = json!({ "keys": keys }).to_string().into_bytes();
        let set = JwkSet::parse(&jwks, ALLOWED).expect("JWKS parses");
        assert_eq!(set.len(), 3);

        // An EKS service-account (IRSA) token: 7 registered claims and 8
        // private ones under `kubernetes.io`.
        let claims = json!({
            "aud": ["sts.amazonaws.com", "https://kubernetes.default.svc"],
            "exp": IAT + 86_400,
            "iat": IAT,
            "iss": ISSUER,
            "jti": "7f3c9a52-1b6e-4d8f-9c0a-2e5b7d4f1a63",
            "kubernetes.io": {
                "namespace": "payments-prod",
                "node": {
                    "name": "ip-10-42-117-23.eu-west-1.compute.internal",
                    "uid": "0b9e4f2a-6c1d-4a7e-8f35-93d2c7b1e604"
                },
                "pod": {
                    "name": "ledger-api-7c9f8d6b5-x2kqp",
                    "uid": "d41e8b7a-2f60-4c95-b3a8-5e1f9c7d0b22"
                },
                "serviceaccount": {
                    "name": "ledger-api",
                    "uid": "a6c2e9d4-83b1-4f07-9e5a-1d7b3c8f60e9"
                },
                "warnafter": IAT + 3_600
            },
            "nbf": IAT,
            "sub": "system:serviceaccount:payments-prod:ledger-api"
        });
        let header = json!({"alg": "RS256", "kid": kid});
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = sign(&k8s["rsa"]["private_pem_pkcs1"], signing_input.as_bytes());
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&signature));

        let validation = Validation {
            require: vec!["exp".into(), "iat".into(), "sub".into()],
            audience: Some(vec!["sts.amazonaws.com".into()]),
            audience_is_str: true,
            issuer: Some(vec![ISSUER.into()]),
            ..Validation::default()
        };
        let payload = serde_json::to_vec(&claims).expect("claims serialize");
        Self {
            jwks,
            set,
            token,
            claims: Claims::parse(payload.clone()).expect("the bench claims parse"),
            payload,
            validation,
            signing_input: signing_input.into_bytes(),
            signature,
        }
    }

    fn signing_key(&self) -> &RsaPublicKey {
        self.set.keys()[2].key.as_rsa().expect("an RSA key")
    }

    /// The key lookup `verify_token` is given: by `kid`, in the set.
    fn find_key(&self, kid: Option<&str>) -> Result<Arc<Jwk>> {
        self.set.select(kid).cloned().ok_or_else(|| pipeline::key_not_found(kid, self.set.len()))
    }
}

/// RS256 signature of `message` with the PKCS#1 PEM private key `pem`.
fn sign(pem: &Value, message: &[u8]) -> Vec<u8> {
    let base64: String =
        pem.as_str().expect("PEM").lines().filter(|line| !line.starts_with("-----")).collect();
    let der = STANDARD.decode(base64).expect("PEM body is base64");
    let key = signature::RsaKeyPair::from_der(&der).expect("RSA private key");
    let mut signature = vec![0; 256];
    key.sign(&signature::RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut signature).expect("signs");
    signature
}

fn main() {
    // Build the inputs and warm the key (the verifier keeps a parsed key per
    // algorithm), and check the whole pipeline accepts the token.
    let inputs = &*INPUTS;
    let verified = pipeline::verify_token(inputs.token.as_bytes(), ALLOWED, DEFAULT_MAX_TOKEN_BYTES, |kid| {
        inputs.find_key(kid)
    })
    .expect("the bench token verifies");
    inputs.validation.validate(&verified.claims, NOW).expect("the bench claims validate");
    assert!((1200..1700).contains(&inputs.token.len()), "token is {} bytes", inputs.token.len());
    divan::main();
}

/// `JwkSet::parse`: JSON, then per key the checks and the base64url `n`/`e`.
mod jwk {
    use super::{black_box, JwkSet, ALLOWED, INPUTS};

    #[divan::bench]
    fn parse_3_keys() -> JwkSet {
        JwkSet::parse(black_box(&INPUTS.jwks), ALLOWED).unwrap()
    }
}

/// Compact JWS handling before any crypto.
mod jws {
    use super::{black_box, Alg, Token, ALLOWED, DEFAULT_MAX_TOKEN_BYTES, INPUTS};
    use jwkscache_core::jws;

    /// `Token::parse`: split, base64url of the three segments, header JSON.
    #[divan::bench]
    fn token_parse() -> Token<'static> {
        Token::parse(black_box(INPUTS.token.as_bytes()), DEFAULT_MAX_TOKEN_BYTES).unwrap()
    }

    /// `Token::parse` plus `algorithm` and `kid`: all a key lookup needs.
    #[divan::bench]
    fn token_header_checks() -> Alg {
        let token = Token::parse(black_box(INPUTS.token.as_bytes()), DEFAULT_MAX_TOKEN_BYTES).unwrap();
        black_box(token.kid().unwrap());
        token.algorithm(ALLOWED).unwrap()
    }

    /// `unverified_kid`: the header segment only (the drop-in's lookup).
    #[divan::bench]
    fn unverified_kid() -> Option<String> {
        jws::unverified_kid(black_box(INPUTS.token.as_bytes()), DEFAULT_MAX_TOKEN_BYTES).unwrap()
    }
}

/// The payload: JSON parse and registered-claim validation.
mod claims {
    use super::{black_box, Claims, INPUTS, NOW};
    use serde_json::{Map, Value};

    /// `Claims::parse`: UTF-8 and JSON syntax checked, registered claims parsed.
    #[divan::bench]
    fn parse() -> Claims {
        Claims::parse(black_box(INPUTS.payload.clone())).unwrap()
    }

    /// `Claims::map`: every claim as a map (built only on demand).
    #[divan::bench]
    fn parse_all() -> Map<String, Value> {
        serde_json::from_slice(black_box(&INPUTS.payload)).unwrap()
    }

    /// `Validation::validate`: require, iat/nbf/exp, iss, aud list, sub, jti.
    #[divan::bench]
    fn validate() {
        INPUTS.validation.validate(black_box(&INPUTS.claims), black_box(NOW)).unwrap();
    }
}

/// The signature check alone: RSA, and next to it ECDSA P-256 and Ed25519.
mod verify {
    use super::{black_box, Alg, Bencher, RsaPublicKey, EDDSA, ES256, INPUTS};

    /// `PublicKey::verify`, ES256 (P-256), RFC 7515 A.3's token.
    #[divan::bench]
    fn es256_warm_key() {
        ES256.verify();
    }

    /// `PublicKey::verify`, EdDSA (Ed25519), RFC 8037 A.4's token.
    #[divan::bench]
    fn eddsa_warm_key() {
        EDDSA.verify();
    }

    /// `RsaPublicKey::verify`, RS256, 2048 bits, on a key already used once.
    #[divan::bench]
    fn rs256_warm_key() {
        let key = INPUTS.signing_key();
        key.verify(Alg::RS256, black_box(&INPUTS.signing_input), black_box(&INPUTS.signature)).unwrap();
    }

    /// The same on a fresh key: what the first token after a rotation pays.
    #[divan::bench]
    fn rs256_cold_key(bencher: Bencher) {
        let warm = INPUTS.signing_key();
        bencher
            .with_inputs(|| RsaPublicKey::from_components(warm.modulus(), warm.exponent()).unwrap())
            .bench_local_refs(|key| {
                key.verify(Alg::RS256, black_box(&INPUTS.signing_input), black_box(&INPUTS.signature))
                    .unwrap();
            });
    }
}

/// `jws::verify_token`: parse, header checks, key lookup by `kid` (a closure
/// over the set), RSA verify, claims JSON; validation not included.
#[divan::bench]
fn verify_token() -> Verified {
    pipeline::verify_token(black_box(INPUTS.token.as_bytes()), ALLOWED, DEFAULT_MAX_TOKEN_BYTES, |kid| {
        INPUTS.find_key(kid)
    })
    .unwrap()
}

/// `verify_token` then `Validation::validate`: the whole decode in Rust.
#[divan::bench]
fn decode() {
    let verified = verify_token();
    INPUTS.validation.validate(&verified.claims, black_box(NOW)).unwrap();
}
