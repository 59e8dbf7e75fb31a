//! The pure-Rust core of jwkscache: JWK Set parsing, compact JWS
//! verification, claim validation, and (in later modules) fetching and
//! caching. Nothing here knows about Python; time is always a parameter.
//!
//! Data flows one way: bytes -> [`jwk`] -> [`jws`] (with [`verify`]) ->
//! [`claims`]. Every fallible function returns [`errors::Result`].

pub mod claims;
pub mod client;
pub mod errors;
pub mod jwk;
pub mod jws;
pub mod verify;

pub use errors::{Error, Result};
