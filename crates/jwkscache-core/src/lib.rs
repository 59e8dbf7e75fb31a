//! The pure-Rust core of jwkscache: fetching and caching a JWKS, JWK Set
//! parsing, compact JWS verification, claim validation. Nothing here knows
//! about Python; policy takes time as a parameter.
//!
//! Data flows one way: [`fetch`] (bytes) -> [`jwk`] (keys) -> [`client`]
//! (key store, with [`cache`] policy) -> [`jws`] (with [`verify`]) ->
//! [`claims`]. Every fallible function returns [`errors::Result`].

pub mod cache;
pub mod claims;
pub mod client;
pub mod errors;
pub mod fetch;
pub mod fork;
pub mod handoff;
pub mod in_cluster;
pub mod jwk;
pub mod jws;
pub mod mac;
pub mod panics;
pub mod pick;
pub mod shared;
pub mod token_cache;
pub mod token_file;
pub mod verify;

pub use errors::{Error, Result};
