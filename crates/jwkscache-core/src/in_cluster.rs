//! The Kubernetes API server's own keys, read from inside a pod.
//!
//! The JWKS is always `https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/openid/v1/jwks`,
//! never the discovery document's `jwks_uri` (often a node-internal address
//! a pod cannot reach). Both endpoints need the `system:service-account-issuer-discovery`
//! role, which by default covers service accounts: the pod's own token goes
//! as bearer (re-read as [`crate::token_file`] says), and the cluster CA is
//! trusted. The expected `iss` is the caller's, or the one the discovery
//! document names (often an external URL, such as an EKS cluster's OIDC issuer).

use serde_json::Value;

use crate::errors::{Error, Result};
use crate::fetch::{FetchConfig, Fetched, Fetcher};

/// Where the kubelet mounts a pod's service-account token.
pub const DEFAULT_TOKEN_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/token";
/// Where the kubelet mounts the cluster's CA bundle.
pub const DEFAULT_CA_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";
/// The API server's JWKS path (`pkg/serviceaccount/openidmetadata.go`).
pub const JWKS_PATH: &str = "/openid/v1/jwks";
/// The API server's discovery document path.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// The API server to ask, and the pod's files to ask it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InCluster {
    /// `https://host:port`, without a trailing slash.
    pub api_server: String,
    /// The bearer token file.
    pub token_file: String,
    /// The CA bundle that signed the API server's certificate.
    pub ca_file: String,
}

impl InCluster {
    /// Each setting as given, else from the pod's environment (`env` looks a
    /// variable up: the bindings pass the process environment) and mounts.
    ///
    /// Outside a pod (no `KUBERNETES_SERVICE_HOST`/`PORT`) and without
    /// `api_server`, an [`Error::Config`] that says so.
    pub fn locate(
        api_server: Option<&str>,
        token_file: Option<&str>,
        ca_file: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self> {
        let api_server = match api_server {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => {
                let var = |name: &str| env(name).filter(|value| !value.is_empty());
                let (Some(host), Some(port)) =
                    (var("KUBERNETES_SERVICE_HOST"), var("KUBERNETES_SERVICE_PORT"))
                else {
                    return Err(Error::Config(
                        "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT \
                         are not set (pass api_server= to name the API server)"
                            .into(),
                    ));
                };
                // An IPv6 service address goes in brackets, as client-go writes it.
                let host = if host.contains(':') { format!("[{host}]") } else { host };
                format!("https://{host}:{port}")
            }
        };
        Ok(Self {
            api_server,
            token_file: token_file.unwrap_or(DEFAULT_TOKEN_FILE).to_owned(),
            ca_file: ca_file.unwrap_or(DEFAULT_CA_FILE).to_owned(),
        })
    }

    /// The API server's JWKS URL.
    pub fn jwks_uri(&self) -> String {
        format!("{}{JWKS_PATH}", self.api_server)
    }

    /// The API server's discovery document URL.
    pub fn discovery_url(&self) -> String {
        format!("{}{DISCOVERY_PATH}", self.api_server)
    }

    /// `base` with this cluster's CA (trusted alone, as client-go does) and
    /// bearer token file.
    pub fn fetch_config(&self, base: FetchConfig) -> FetchConfig {
        FetchConfig {
            ca_file: Some(self.ca_file.clone()),
            ca_only: true,
            bearer_token_file: Some(self.token_file.clone()),
            ..base
        }
    }

    /// The `issuer` the API server's discovery document names (its
    /// `jwks_uri` is not used).
    pub fn discover_issuer(&self, fetcher: &Fetcher) -> Result<String> {
        let url = self.discovery_url();
        let failed = |why: String| {
            Error::Fetch(format!(
                "Fail to fetch data from the url, err: \"cannot learn the cluster's issuer from {url}: {why}; \
                 pass issuer= to name it\""
            ))
        };
        let body = match fetcher.get(&url, None) {
            Ok(Fetched::Body { body, .. }) => body,
            Ok(Fetched::NotModified { .. }) => return Err(failed("an unexpected 304".into())),
            Err(error) => return Err(failed(error.to_string())),
        };
        let document: Value =
            serde_json::from_slice(&body).map_err(|e| failed(format!("the document is not JSON ({e})")))?;
        crate::pick::refuse_duplicate_members(&body)
            .map_err(|e| failed(format!("the document is refused: {e}")))?;
        match document.get("issuer").and_then(Value::as_str) {
            Some(issuer) if !issuer.is_empty() => Ok(issuer.to_owned()),
            _ => Err(failed("the document has no \"issuer\" string".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_pod_environment_names_the_api_server() {
        let pod = [("KUBERNETES_SERVICE_HOST", "10.96.0.1"), ("KUBERNETES_SERVICE_PORT", "443")];
        let cluster = InCluster::locate(None, None, None, env(&pod)).unwrap();
        assert_eq!(cluster.jwks_uri(), "https://10.96.0.1:443/openid/v1/jwks");
        assert_eq!(cluster.discovery_url(), "https://10.96.0.1:443/.well-known/openid-configuration");
        assert_eq!(
            (cluster.token_file.as_str(), cluster.ca_file.as_str()),
            (DEFAULT_TOKEN_FILE, DEFAULT_CA_FILE)
        );
        let config = cluster.fetch_config(FetchConfig::default());
        assert_eq!(config.ca_file.as_deref(), Some(DEFAULT_CA_FILE));
        assert!(config.ca_only);
        assert_eq!(config.bearer_token_file.as_deref(), Some(DEFAULT_TOKEN_FILE));

        let v6 = [("KUBERNETES_SERVICE_HOST", "fd00:10:96::1"), ("KUBERNETES_SERVICE_PORT", "6443")];
        let cluster = InCluster::locate(None, Some("/t"), Some("/c"), env(&v6)).unwrap();
        assert_eq!(cluster.api_server, "https://[fd00:10:96::1]:6443");
        assert_eq!((cluster.token_file.as_str(), cluster.ca_file.as_str()), ("/t", "/c"));
    }

    #[test]
    fn outside_a_pod_it_says_so() {
        for vars in [
            &[][..],
            &[("KUBERNETES_SERVICE_HOST", "10.96.0.1")],
            &[("KUBERNETES_SERVICE_HOST", ""), ("KUBERNETES_SERVICE_PORT", "443")],
        ] {
            let err = InCluster::locate(None, None, None, env(vars)).unwrap_err();
            assert!(
                matches!(&err, Error::Config(m) if m.starts_with("not running in a Kubernetes pod")),
                "{err:?}"
            );
        }
        let given = InCluster::locate(Some("https://127.0.0.1:6443/"), None, None, env(&[])).unwrap();
        assert_eq!(given.jwks_uri(), "https://127.0.0.1:6443/openid/v1/jwks");
    }
}
