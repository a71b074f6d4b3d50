//! Local caches fed by watches, shared by the controllers.

use std::fmt::Debug;
use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::{self, watcher};
use kube::runtime::WatchStreamExt;
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::Notify;

use crate::error::ControllerError;

/// The events of a list and watch of `api`. Watch failures are logged and
/// retried with back-off, so the stream ends only if the watch does.
pub fn events<K>(
    api: Api<K>,
    config: watcher::Config,
    resource: &'static str,
) -> BoxStream<'static, watcher::Event<K>>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    watcher(api, config)
        .default_backoff()
        .filter_map(move |event| async move {
            match event {
                Ok(event) => Some(event),
                Err(source) => {
                    tracing::warn!(error = %ControllerError::Watch { resource, source }, "watch failed; retrying");
                    None
                }
            }
        })
        .boxed()
}

/// Keeps `writer`'s store equal to what `api` lists and watches, and wakes
/// `wake` after every change. Watch failures are logged and retried with
/// back-off; this returns only if the watch ends, which it does not while
/// it can retry.
pub async fn reflect<K>(
    api: Api<K>,
    config: watcher::Config,
    mut writer: Writer<K>,
    wake: Arc<Notify>,
    resource: &'static str,
) -> ControllerError
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let mut events = events(api, config, resource);
    while let Some(event) = events.next().await {
        writer.apply_watcher_event(&event);
        wake.notify_one();
    }
    ControllerError::WatchEnded { resource }
}
