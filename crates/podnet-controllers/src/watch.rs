//! Local caches fed by watches, shared by the controllers.

use std::fmt::Debug;
use std::sync::Arc;

use futures_util::StreamExt;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::error::ControllerError;

/// Keeps `writer`'s store equal to what `api` lists and watches, and wakes
/// `wake` after every change. Watch failures are logged and retried with
/// back-off; this returns only if the watch ends, which it does not while
/// it can retry.
pub async fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    writer: Writer<K>,
    wake: Arc<Notify>,
    resource: &'static str,
) -> ControllerError
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let mut events = watcher(api, config)
        .default_backoff()
        .reflect(writer)
        .boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(_) => wake.notify_one(),
            Err(source) => {
                tracing::warn!(error = %ControllerError::Watch { resource, source }, "watch failed; retrying");
            }
        }
    }
    ControllerError::WatchEnded { resource }
}
