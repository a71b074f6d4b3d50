//! The REST surface: parses Kubernetes API paths, query parameters and
//! media types, calls the registry, and writes objects, lists, tables,
//! watch streams and Status errors.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::StreamExt;
use rand::Rng;
use serde_json::{json, Value};
use tokio_stream::wrappers::ReceiverStream;

use crate::filter::Filter;
use crate::patch::PatchType;
use crate::registry::{
    DeleteOptions, FieldValidation, ListOptions, ListPage, Part, RawListPage, Registry,
    WriteOptions, Written,
};
use crate::resources::{self, Resource};
use crate::status::ApiError;
use crate::table::{self, IncludeObject};
use crate::watch::{self, WatchEvent, WatchRequest};
use crate::{discovery, openapi};

/// Largest request body accepted, as Kubernetes (3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// What the handlers share.
pub struct AppState {
    pub registry: Arc<Registry>,
    /// host:port clients reach the server at (for /api's serverAddressByClientCIDRs).
    pub server_address: String,
}

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

fn error_response(e: &ApiError) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(code, &e.status(), &[])
}

/// A document built once (OpenAPI), with its hash as ETag when it has one.
fn static_json(text: &'static str, etag: Option<&str>) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        text,
    )
        .into_response();
    if let Some(tag) = etag.and_then(|t| header::HeaderValue::from_str(&format!("\"{t}\"")).ok()) {
        response.headers_mut().insert(header::ETAG, tag);
        response.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("public, immutable"),
        );
    }
    response
}

fn json_response(code: StatusCode, body: &Value, warnings: &[String]) -> Response {
    let mut response = (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response();
    for warning in warnings {
        let value = format!(
            "299 - {}",
            serde_json::to_string(warning).unwrap_or_default()
        );
        if let Ok(v) = header::HeaderValue::from_str(&value) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}

/// How the client wants objects back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Json,
    Yaml,
    Table,
}

fn output(headers: &HeaderMap) -> Result<Output, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.trim().is_empty() {
        return Ok(Output::Json);
    }
    for media in accept.split(',') {
        let mut parts = media.split(';').map(str::trim);
        let base = parts.next().unwrap_or("");
        let params: HashMap<&str, &str> = parts.filter_map(|p| p.split_once('=')).collect();
        match base {
            "application/json" | "*/*" | "application/*" => {
                if params.get("as") == Some(&"Table") {
                    if params.get("g").is_none_or(|g| *g == "meta.k8s.io")
                        && params.get("v").is_none_or(|v| *v == "v1")
                    {
                        return Ok(Output::Table);
                    }
                    continue;
                }
                if params.contains_key("as") {
                    // PartialObjectMetadata and discovery lists in other shapes: not offered, try the next type.
                    continue;
                }
                return Ok(Output::Json);
            }
            "application/yaml" => return Ok(Output::Yaml),
            _ => continue,
        }
    }
    Err(ApiError::new(406, "NotAcceptable", format!("only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io (asked for {accept})")))
}

fn object_response(
    code: StatusCode,
    obj: &Value,
    format: Output,
    res: &Resource,
    query: &Query,
    warnings: &[String],
) -> Response {
    match format {
        Output::Json => json_response(code, obj, warnings),
        Output::Yaml => match serde_yaml::to_string(obj) {
            Ok(yaml) => (code, [(header::CONTENT_TYPE, "application/yaml")], yaml).into_response(),
            Err(e) => error_response(&ApiError::internal(e.to_string())),
        },
        Output::Table => match query.include_object().and_then(|include| {
            table::to_table(
                res,
                std::slice::from_ref(obj),
                include,
                jiff::Timestamp::now(),
            )
        }) {
            Ok(mut table) => {
                table["metadata"] = json!({"resourceVersion": obj["metadata"]["resourceVersion"]});
                json_response(code, &table, warnings)
            }
            Err(e) => error_response(&e),
        },
    }
}

/// Query parameters, first value of each.
struct Query(HashMap<String, String>);

impl Query {
    fn parse(uri: &Uri) -> Query {
        let mut map = HashMap::new();
        if let Some(q) = uri.query() {
            for (k, v) in form_urlencoded::parse(q.as_bytes()) {
                map.entry(k.into_owned()).or_insert_with(|| v.into_owned());
            }
        }
        Query(map)
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | ""))
    }

    fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("{key}: invalid integer {v:?}"))),
        }
    }

    fn include_object(&self) -> Result<IncludeObject, ApiError> {
        IncludeObject::from_query(self.get("includeObject"))
    }

    fn write_options(&self) -> Result<WriteOptions, ApiError> {
        let dry_run = match self.get("dryRun") {
            None | Some("") => false,
            Some("All") => true,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "dryRun: unsupported value {other:?}, supported: All"
                )))
            }
        };
        Ok(WriteOptions {
            dry_run,
            field_validation: FieldValidation::parse(self.get("fieldValidation"))?,
            field_manager: self.get("fieldManager").map(str::to_string),
            force: self.flag("force"),
            ..Default::default()
        })
    }
}

/// An API path split into its parts.
#[derive(Debug)]
struct ResourcePath {
    res: &'static Resource,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
    legacy_watch: bool,
}

fn parse_resource_path(
    group: &str,
    version: &str,
    rest: &[&str],
) -> Result<ResourcePath, ApiError> {
    let (legacy_watch, rest) = match rest.first() {
        Some(&"watch") => (true, &rest[1..]),
        _ => (false, rest),
    };
    let not_found = ApiError::not_found_path;
    if rest.len() >= 3 && rest[0] == "namespaces" {
        if let Some(res) = resources::find(group, version, rest[2]).filter(|r| r.namespaced) {
            if rest.len() > 5 {
                return Err(not_found());
            }
            return Ok(ResourcePath {
                res,
                namespace: Some(rest[1].to_string()),
                name: rest.get(3).map(|s| s.to_string()),
                sub: rest.get(4).map(|s| s.to_string()),
                legacy_watch,
            });
        }
    }
    let plural = rest.first().ok_or_else(not_found)?;
    let res = resources::find(group, version, plural).ok_or_else(not_found)?;
    if rest.len() > 3 {
        return Err(not_found());
    }
    Ok(ResourcePath {
        res,
        namespace: None,
        name: rest.get(1).map(|s| s.to_string()),
        sub: rest.get(2).map(|s| s.to_string()),
        legacy_watch,
    })
}

/// Bodies this much over the limit are cut off instead of read to the end.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Reads a request body of at most MAX_BODY_BYTES. A bigger one is still
/// read (and dropped) up to DRAIN_LIMIT so the client gets its 413 on an
/// intact connection instead of a reset while it is still sending.
async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    let mut stream = body.into_data_stream();
    let mut collected = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::bad_request(format!("reading the request body: {e}")))?;
        seen += chunk.len();
        if seen > DRAIN_LIMIT {
            break;
        }
        if seen <= MAX_BODY_BYTES {
            collected.extend_from_slice(&chunk);
        }
    }
    if seen > MAX_BODY_BYTES {
        return Err(ApiError::too_large());
    }
    Ok(Bytes::from(collected))
}

async fn handle(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(e) => return error_response(&e),
    };
    match route(&state, &method, &uri, &headers, body).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

async fn route(
    state: &Arc<AppState>,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let path = uri.path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let query = Query::parse(uri);
    let get_only = |value: Value| -> Result<Response, ApiError> {
        if *method != Method::GET {
            return Err(ApiError::method_not_allowed(format!(
                "the server does not allow this method on the requested resource ({method})"
            )));
        }
        Ok(json_response(StatusCode::OK, &value, &[]))
    };
    match segments.as_slice() {
        [] => get_only(discovery::root_paths()),
        ["healthz" | "livez" | "readyz", ..] => {
            Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/plain")], "ok").into_response())
        }
        ["version"] => get_only(discovery::version()),
        ["api"] => get_only(discovery::api_versions(&state.server_address)),
        ["apis"] => get_only(discovery::api_group_list()),
        ["api", version] => {
            get_only(discovery::resource_list("", version).ok_or_else(ApiError::not_found_path)?)
        }
        ["apis", group] => {
            get_only(discovery::api_group(group).ok_or_else(ApiError::not_found_path)?)
        }
        ["apis", group, version] => {
            get_only(discovery::resource_list(group, version).ok_or_else(ApiError::not_found_path)?)
        }
        ["openapi", "v2"] => {
            // kubectl asks for the protobuf form only; answering with JSON
            // would make it fail to decode, a 406 makes it go on without.
            let accept = headers
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if accept.contains("protobuf") && !accept.contains("json") {
                return Err(ApiError::new(
                    406,
                    "NotAcceptable",
                    "only application/json is served for /openapi/v2",
                ));
            }
            Ok(static_json(openapi::v2_json(), None))
        }
        ["openapi", "v3"] => get_only(openapi::v3_index()),
        ["openapi", "v3", rest @ ..] => {
            let path = rest.join("/");
            let text = openapi::v3_json(&path).ok_or_else(ApiError::not_found_path)?;
            Ok(static_json(text, openapi::v3_hash(&path)))
        }
        ["api", version, rest @ ..] => {
            let path = parse_resource_path("", version, rest)?;
            resource_request(state, method, headers, &query, path, body).await
        }
        ["apis", group, version, rest @ ..] => {
            let path = parse_resource_path(group, version, rest)?;
            resource_request(state, method, headers, &query, path, body).await
        }
        _ => Err(ApiError::not_found_path()),
    }
}

fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A JSON or YAML request body as a value.
fn parse_body(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let ct = content_type(headers);
    match ct.as_str() {
        "application/json" | "" => serde_json::from_slice(body).map_err(|e| {
            ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))
        }),
        "application/yaml" | "application/x-yaml" | "text/yaml" => {
            let value: Value = serde_yaml::from_slice(body).map_err(|e| {
                ApiError::bad_request(format!("couldn't get version/kind; yaml parse error: {e}"))
            })?;
            Ok(value)
        }
        other if crate::protobuf::is_protobuf(other) => crate::protobuf::decode(body)
            .map_err(|e| ApiError::bad_request(format!("couldn't decode the protobuf body: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

fn delete_options(
    query: &Query,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<DeleteOptions, ApiError> {
    let mut options = DeleteOptions {
        grace_period_seconds: query.int("gracePeriodSeconds")?,
        propagation: query.get("propagationPolicy").map(str::to_string),
        dry_run: query.write_options()?.dry_run,
        ..Default::default()
    };
    if query.get("orphanDependents") == Some("true") && options.propagation.is_none() {
        options.propagation = Some("Orphan".into());
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        let value = parse_body(headers, body)?;
        if let Some(g) = value.get("gracePeriodSeconds").and_then(Value::as_i64) {
            options.grace_period_seconds = Some(g);
        }
        if let Some(p) = value.get("propagationPolicy").and_then(Value::as_str) {
            options.propagation = Some(p.to_string());
        }
        if value.get("orphanDependents").and_then(Value::as_bool) == Some(true)
            && options.propagation.is_none()
        {
            options.propagation = Some("Orphan".into());
        }
        if let Some(uid) = value["preconditions"]["uid"].as_str() {
            options.precondition_uid = Some(uid.to_string());
        }
        if let Some(rv) = value["preconditions"]["resourceVersion"].as_str() {
            options.precondition_resource_version = Some(rv.to_string());
        }
        if let Some(dry) = value.get("dryRun").and_then(Value::as_array) {
            options.dry_run |= dry.iter().any(|d| d == "All");
        }
    }
    if let Some(p) = &options.propagation {
        if !matches!(p.as_str(), "Orphan" | "Background" | "Foreground") {
            return Err(ApiError::bad_request(format!("propagationPolicy: unsupported value {p:?}: supported values: \"Orphan\", \"Background\", \"Foreground\"")));
        }
    }
    if options.grace_period_seconds.is_some_and(|g| g < 0) {
        options.grace_period_seconds = Some(0);
    }
    Ok(options)
}

fn list_value(res: &Resource, page: ListPage) -> Value {
    let mut metadata = json!({"resourceVersion": page.revision.to_string()});
    if let Some(token) = page.continue_token {
        metadata["continue"] = json!(token);
    }
    json!({"kind": res.list_kind(), "apiVersion": res.api_version(), "metadata": metadata, "items": page.items})
}

/// A list written from stored bytes: `{"kind", "apiVersion", "metadata", "items": [...]}`.
fn raw_list_response(res: &Resource, page: RawListPage) -> Response {
    let mut metadata = json!({"resourceVersion": page.revision.to_string()});
    if let Some(token) = page.continue_token {
        metadata["continue"] = json!(token);
    }
    let head =
        json!({"kind": res.list_kind(), "apiVersion": res.api_version(), "metadata": metadata});
    let head = serde_json::to_vec(&head).expect("JSON encodes");
    let size: usize = page.items.iter().map(|i| i.len() + 1).sum::<usize>() + head.len() + 16;
    let mut body = Vec::with_capacity(size);
    // The head object without its closing brace, then the items.
    body.extend_from_slice(&head[..head.len() - 1]);
    body.extend_from_slice(b",\"items\":[");
    for (i, item) in page.items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(item);
    }
    body.extend_from_slice(b"]}");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn written_response(written: Written, format: Output, res: &Resource, query: &Query) -> Response {
    let code = if written.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    object_response(code, &written.object, format, res, query, &written.warnings)
}

async fn resource_request(
    state: &Arc<AppState>,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    path: ResourcePath,
    body: Bytes,
) -> Result<Response, ApiError> {
    let registry = &state.registry;
    let res = path.res;
    let ns = path.namespace.as_deref();
    // Across namespaces only reads make sense (a create names its namespace in the body then).
    if res.namespaced
        && ns.is_none()
        && !matches!(*method, Method::GET)
        && !(*method == Method::POST && path.name.is_none())
    {
        return Err(ApiError::not_found_path());
    }
    if !res.namespaced && path.namespace.is_some() {
        return Err(ApiError::not_found_path());
    }
    let format = output(headers)?;
    let part = match path.sub.as_deref() {
        None => Part::Main,
        Some("status") if res.status => Part::Status,
        Some("scale") if res.scale => Part::Main,
        Some("binding") if res.group.is_empty() && res.kind == "Pod" => Part::Main,
        Some(_) => return Err(ApiError::not_found_path()),
    };
    let watch_requested =
        path.legacy_watch || query.flag("watch") && query.get("watch") != Some("false");
    match (method.clone(), path.name.as_deref(), path.sub.as_deref()) {
        (Method::GET, None, None) if watch_requested => {
            watch_response(state, res, ns, None, query, format).await
        }
        (Method::GET, Some(name), None) if watch_requested => {
            watch_response(state, res, ns, Some(name), query, format).await
        }
        (Method::GET, None, None) => {
            let filter =
                Filter::parse(res, query.get("labelSelector"), query.get("fieldSelector"))?;
            let options = ListOptions {
                limit: query.int("limit")?.filter(|l| *l > 0).map(|l| l as usize),
                continue_token: query.get("continue").map(str::to_string),
                resource_version: query.get("resourceVersion").map(str::to_string),
                resource_version_match: query.get("resourceVersionMatch").map(str::to_string),
            };
            if format == Output::Json && filter.is_everything() {
                let page = registry.list_raw(res, ns, &options).await?;
                return Ok(raw_list_response(res, page));
            }
            let page = registry.list(res, ns, &filter, &options).await?;
            match format {
                Output::Table => {
                    let mut table = table::to_table(
                        res,
                        &page.items,
                        query.include_object()?,
                        jiff::Timestamp::now(),
                    )?;
                    table["metadata"] = json!({"resourceVersion": page.revision.to_string()});
                    if let Some(token) = &page.continue_token {
                        table["metadata"]["continue"] = json!(token);
                    }
                    Ok(json_response(StatusCode::OK, &table, &[]))
                }
                other => Ok(object_response(
                    StatusCode::OK,
                    &list_value(res, page),
                    other,
                    res,
                    query,
                    &[],
                )),
            }
        }
        (Method::GET, Some(name), None) | (Method::GET, Some(name), Some("status")) => {
            let obj = registry.get(res, ns, name).await?;
            Ok(object_response(
                StatusCode::OK,
                &obj,
                format,
                res,
                query,
                &[],
            ))
        }
        (Method::GET, Some(name), Some("scale")) => {
            let scale = registry.get_scale(res, ns, name).await?;
            Ok(json_response(StatusCode::OK, &scale, &[]))
        }
        (Method::POST, None, None) => {
            let value = parse_body(headers, &body)?;
            let written = registry
                .create(res, ns, &value, &query.write_options()?)
                .await?;
            Ok(written_response(written, format, res, query))
        }
        (Method::POST, Some(name), Some("binding")) => {
            let value = parse_body(headers, &body)?;
            let node = value["target"]["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or_else(|| {
                    ApiError::invalid(
                        "",
                        "Binding",
                        name,
                        &[crate::status::FieldError::required("target.name", "")],
                    )
                })?;
            registry.bind(res, ns, name, node).await?;
            Ok(json_response(
                StatusCode::CREATED,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
                &[],
            ))
        }
        (Method::PUT, Some(name), Some("scale")) => {
            let value = parse_body(headers, &body)?;
            let scale = registry
                .update_scale(
                    res,
                    ns,
                    name,
                    |_| Ok(value.clone()),
                    &query.write_options()?,
                )
                .await?;
            Ok(json_response(StatusCode::OK, &scale, &[]))
        }
        (Method::PATCH, Some(name), Some("scale")) => {
            let patch_type = patch_type(headers)?;
            let scale = registry
                .update_scale(
                    res,
                    ns,
                    name,
                    |current| {
                        crate::patch::apply_patch(&resources::SCALE, current, patch_type, &body)
                            .map_err(|e| e.to_api_error(&resources::SCALE, name))
                    },
                    &query.write_options()?,
                )
                .await?;
            Ok(json_response(StatusCode::OK, &scale, &[]))
        }
        (Method::PUT, Some(name), _) => {
            let value = parse_body(headers, &body)?;
            let written = registry
                .update(res, ns, name, &value, part, &query.write_options()?)
                .await?;
            Ok(written_response(written, format, res, query))
        }
        (Method::PATCH, Some(name), _) => {
            let patch_type = patch_type(headers)?;
            let written = registry
                .patch(
                    res,
                    ns,
                    name,
                    patch_type,
                    &body,
                    part,
                    &query.write_options()?,
                )
                .await?;
            Ok(written_response(written, format, res, query))
        }
        (Method::DELETE, Some(name), None) => {
            let options = delete_options(query, headers, &body)?;
            let deleted = registry.delete(res, ns, name, &options).await?;
            let code = if deleted.pending {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            Ok(object_response(
                code,
                &deleted.object,
                format,
                res,
                query,
                &[],
            ))
        }
        (Method::DELETE, None, None) => {
            let filter =
                Filter::parse(res, query.get("labelSelector"), query.get("fieldSelector"))?;
            let options = delete_options(query, headers, &body)?;
            let page = registry
                .delete_collection(res, ns, &filter, &options)
                .await?;
            Ok(json_response(StatusCode::OK, &list_value(res, page), &[]))
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({method})"
        ))),
    }
}

fn patch_type(headers: &HeaderMap) -> Result<PatchType, ApiError> {
    let ct = content_type(headers);
    PatchType::from_content_type(&ct).ok_or_else(|| ApiError::unsupported_media_type(&ct))
}

/// Kubernetes ends a watch without timeoutSeconds after a random time in [30, 60) minutes.
fn default_watch_timeout() -> Duration {
    Duration::from_secs(rand::rng().random_range(1800..3600))
}

async fn watch_response(
    state: &Arc<AppState>,
    res: &'static Resource,
    ns: Option<&str>,
    name: Option<&str>,
    query: &Query,
    format: Output,
) -> Result<Response, ApiError> {
    let mut field_selector = query.get("fieldSelector").unwrap_or("").to_string();
    if let Some(name) = name {
        if !field_selector.is_empty() {
            field_selector.push(',');
        }
        field_selector.push_str(&format!("metadata.name={name}"));
    }
    let filter = Filter::parse(res, query.get("labelSelector"), Some(&field_selector))?;
    let timeout = match query.int("timeoutSeconds")? {
        Some(secs) if secs > 0 => Duration::from_secs(secs as u64),
        _ => default_watch_timeout(),
    };
    let request = WatchRequest {
        res,
        namespace: ns.map(str::to_string),
        filter,
        resource_version: query.get("resourceVersion").map(str::to_string),
        send_initial_events: query.flag("sendInitialEvents")
            && query.get("sendInitialEvents") != Some("false"),
        bookmarks: query.flag("allowWatchBookmarks")
            && query.get("allowWatchBookmarks") != Some("false"),
        timeout,
    };
    let events = watch::start(state.registry.clone(), request).await?;
    let include = query.include_object()?;
    let mut first_table = true;
    let stream = ReceiverStream::new(events).map(move |event| {
        let table_object = if format == Output::Table {
            event.object()
        } else {
            None
        };
        let line = match table_object {
            Some(o) => {
                match table::to_table(
                    res,
                    std::slice::from_ref(&o),
                    include,
                    jiff::Timestamp::now(),
                ) {
                    Ok(mut table) => {
                        table["metadata"] =
                            json!({"resourceVersion": o["metadata"]["resourceVersion"]});
                        // Kubernetes sends the column definitions with the first event only.
                        if !first_table {
                            table["columnDefinitions"] = json!([]);
                        }
                        first_table = false;
                        let mut line = serde_json::to_vec(
                            &json!({"type": event.type_name(), "object": table}),
                        )
                        .expect("JSON encodes");
                        line.push(b'\n');
                        line
                    }
                    Err(e) => WatchEvent::Error(e).to_line(res),
                }
            }
            None => event.to_line(res),
        };
        Ok::<_, std::convert::Infallible>(Bytes::from(line))
    });
    let content_type = "application/json";
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_resource_namespace_name_and_subresource() {
        let p = parse_resource_path(
            "",
            "v1",
            &["namespaces", "default", "pods", "web", "status"],
        )
        .unwrap();
        assert_eq!(p.res.plural, "pods");
        assert_eq!(p.namespace.as_deref(), Some("default"));
        assert_eq!(p.name.as_deref(), Some("web"));
        assert_eq!(p.sub.as_deref(), Some("status"));
        let ns = parse_resource_path("", "v1", &["namespaces", "default"]).unwrap();
        assert_eq!(ns.res.plural, "namespaces");
        assert_eq!(ns.name.as_deref(), Some("default"));
        let ns_status =
            parse_resource_path("", "v1", &["namespaces", "default", "status"]).unwrap();
        assert_eq!(ns_status.res.plural, "namespaces");
        assert_eq!(ns_status.sub.as_deref(), Some("status"));
        let all = parse_resource_path("apps", "v1", &["deployments"]).unwrap();
        assert!(all.namespace.is_none());
        assert!(parse_resource_path("", "v1", &["widgets"]).is_err());
        let w = parse_resource_path("", "v1", &["watch", "namespaces", "x", "pods"]).unwrap();
        assert!(w.legacy_watch);
    }

    #[test]
    fn accept_headers_pick_tables_json_or_yaml() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json".parse().unwrap());
        assert_eq!(output(&h).unwrap(), Output::Table);
        h.insert(header::ACCEPT, "application/json, */*".parse().unwrap());
        assert_eq!(output(&h).unwrap(), Output::Json);
        h.insert(
            header::ACCEPT,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
                .parse()
                .unwrap(),
        );
        assert_eq!(output(&h).unwrap(), Output::Json);
        h.insert(header::ACCEPT, "application/yaml".parse().unwrap());
        assert_eq!(output(&h).unwrap(), Output::Yaml);
        h.insert(
            header::ACCEPT,
            "application/vnd.kubernetes.protobuf".parse().unwrap(),
        );
        assert_eq!(output(&h).unwrap_err().code, 406);
    }
}
