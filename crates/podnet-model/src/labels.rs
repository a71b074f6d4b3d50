//! Well-known Kubernetes labels that several podnet components read or write.

/// On an EndpointSlice: the Service it belongs to.
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";
/// On a Service's slices and Endpoints when it has no cluster IP.
pub const HEADLESS: &str = "service.kubernetes.io/headless";
