//! Listing every pod: in one request, and in pages as kube-rs reflectors do.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use http_body_util::BodyExt;

use crate::error::BenchError;
use crate::stats::{self, Summary};

/// The page size kube-rs' watcher uses for its initial list.
pub const PAGE_SIZE: u32 = 500;

#[derive(Debug, Clone, Copy)]
pub struct ListFigures {
    /// `Api::list` of all pods in one request, decoding included.
    pub whole: Summary,
    /// The same request until the response headers arrive: the server
    /// sends them once it has built the whole body.
    pub first_byte: Summary,
    /// The same request with the body only read, not decoded: the server's
    /// and the transfer's share of `whole`.
    pub raw: Summary,
    pub raw_bytes: usize,
    /// All pods in pages of [`PAGE_SIZE`], decoding included, per complete list.
    pub paged: Summary,
    pub pages: usize,
}

/// Lists all pods `repeats` times each way, after one untimed list that warms
/// the server's and the store's caches.
pub async fn measure(
    client: &kube::Client,
    expected: usize,
    repeats: usize,
) -> Result<ListFigures, BenchError> {
    let api: Api<Pod> = Api::all(client.clone());
    whole_list(&api, expected).await?;
    let mut whole = Vec::with_capacity(repeats);
    for _ in 0..repeats {
        whole.push(whole_list(&api, expected).await?);
    }
    let mut first_byte = Vec::with_capacity(repeats);
    let mut raw = Vec::with_capacity(repeats);
    let mut raw_bytes = 0;
    for _ in 0..repeats {
        let timing = raw_list(client).await?;
        first_byte.push(timing.first_byte);
        raw.push(timing.whole);
        raw_bytes = timing.bytes;
    }
    let mut paged = Vec::with_capacity(repeats);
    let mut pages = 0;
    for _ in 0..repeats {
        let (elapsed, count) = paged_list(&api, expected).await?;
        paged.push(elapsed);
        pages = count;
    }
    let summary = |samples: &[Duration]| {
        stats::summarize(samples)
            .ok_or_else(|| BenchError::unexpected("listing pods", "no list was timed"))
    };
    Ok(ListFigures {
        whole: summary(&whole)?,
        first_byte: summary(&first_byte)?,
        raw: summary(&raw)?,
        raw_bytes,
        paged: summary(&paged)?,
        pages,
    })
}

async fn whole_list(api: &Api<Pod>, expected: usize) -> Result<Duration, BenchError> {
    let started = Instant::now();
    let list = api
        .list(&ListParams::default())
        .await
        .map_err(BenchError::kube("listing all pods"))?;
    let elapsed = started.elapsed();
    check_count("listing all pods", list.items.len(), expected)?;
    Ok(elapsed)
}

/// Times the response headers (the server answers once the whole list is
/// built, so this is the server's work) and the whole body, not decoded.
async fn raw_list(client: &kube::Client) -> Result<RawTiming, BenchError> {
    let request = http::Request::get("/api/v1/pods")
        .body(kube::client::Body::from(Vec::new()))
        .map_err(|error| BenchError::unexpected("building the list request", error.to_string()))?;
    let started = Instant::now();
    let response = client
        .send(request)
        .await
        .map_err(BenchError::kube("listing all pods without decoding"))?;
    let first_byte = started.elapsed();
    if !response.status().is_success() {
        return Err(BenchError::unexpected(
            "listing all pods without decoding",
            format!("status {}", response.status()),
        ));
    }
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|error| BenchError::unexpected("reading the list's body", error.to_string()))?
        .to_bytes();
    Ok(RawTiming {
        first_byte,
        whole: started.elapsed(),
        bytes: body.len(),
    })
}

struct RawTiming {
    first_byte: Duration,
    whole: Duration,
    bytes: usize,
}

async fn paged_list(api: &Api<Pod>, expected: usize) -> Result<(Duration, usize), BenchError> {
    let started = Instant::now();
    let mut params = ListParams::default().limit(PAGE_SIZE);
    let mut items = 0;
    let mut pages = 0;
    loop {
        let page = api.list(&params).await.map_err(BenchError::kube(format!(
            "listing page {} of pods",
            pages + 1
        )))?;
        pages += 1;
        items += page.items.len();
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    let elapsed = started.elapsed();
    check_count("listing all pods in pages", items, expected)?;
    Ok((elapsed, pages))
}

fn check_count(context: &str, listed: usize, expected: usize) -> Result<(), BenchError> {
    if listed == expected {
        Ok(())
    } else {
        Err(BenchError::unexpected(
            context,
            format!("{listed} pods listed, {expected} created"),
        ))
    }
}
