//! The Deployment reconcile loop.

use k8s_openapi::api::apps::v1::Deployment;
use kube::Client;

pub async fn run(client: Client) {
    let _ = client;
    let _ = std::marker::PhantomData::<Deployment>;
}
