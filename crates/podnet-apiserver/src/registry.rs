//! The operations on objects, independent of HTTP: get, list, create,
//! update, patch, delete, with the rules Kubernetes' generic registry
//! applies around them (system metadata, status separation, generation,
//! defaulting, validation, allocation, finalizers, graceful deletion).
//! The HTTP layer and the in-process controllers both go through here.

use std::sync::{Arc, Mutex};

use podnet_store::{Store, StoreError};
use rand::Rng;
use serde_json::{json, Value};

use crate::alloc::{Allocation, Claims, ServiceAllocator};
use crate::filter::Filter;
use crate::object::{self, meta_mut};
use crate::patch::{self, PatchType};
use crate::resources::{self, Resource};
use crate::status::{ApiError, FieldError};
use crate::{defaults, typed, validation};

/// How many times a write without a caller's precondition is retried when
/// another writer got there first.
const CONFLICT_RETRIES: usize = 8;

/// What the server does with fields the object's type does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    /// Refuse the request (400).
    Strict,
    /// Drop them and say so in a Warning header.
    #[default]
    Warn,
    /// Drop them silently.
    Ignore,
}

impl FieldValidation {
    pub fn parse(value: Option<&str>) -> Result<FieldValidation, ApiError> {
        match value {
            None | Some("") => Ok(FieldValidation::Warn),
            Some("Strict") => Ok(FieldValidation::Strict),
            Some("Warn") => Ok(FieldValidation::Warn),
            Some("Ignore") => Ok(FieldValidation::Ignore),
            Some(other) => Err(ApiError::bad_request(format!(
                "fieldValidation must be one of Ignore, Warn or Strict, got {other:?}"
            ))),
        }
    }
}

/// Options every write takes.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub dry_run: bool,
    pub field_validation: FieldValidation,
    pub field_manager: Option<String>,
    pub force: bool,
    /// Server-internal writes that may do what validation forbids clients
    /// (a pod's binding to its node; the `kubernetes` endpoints on a loopback address).
    pub(crate) internal: bool,
}

impl WriteOptions {
    /// The options of the server's own writes (bootstrap objects, bindings).
    pub fn internal() -> WriteOptions {
        WriteOptions {
            internal: true,
            ..Default::default()
        }
    }
}

/// The part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Main,
    Status,
}

/// A write's result: the object as stored, and warnings for the client.
#[derive(Debug, Clone)]
pub struct Written {
    pub object: Value,
    pub warnings: Vec<String>,
    pub created: bool,
}

/// Options of a delete (query parameters or a DeleteOptions body).
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_resource_version: Option<String>,
    pub dry_run: bool,
}

/// A delete's result: the object, and whether it is gone or only marked.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub object: Value,
    pub pending: bool,
}

/// One page of a list.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Value>,
    pub revision: i64,
    pub continue_token: Option<String>,
}

/// One page of a list as JSON bytes, each object with its resourceVersion.
#[derive(Debug, Clone)]
pub struct RawListPage {
    pub items: Vec<Vec<u8>>,
    pub revision: i64,
    pub continue_token: Option<String>,
}

/// Options of a list.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
    pub resource_version: Option<String>,
    pub resource_version_match: Option<String>,
}

/// Settings of the registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    pub service_cidr: ipnet::IpNet,
    pub node_ports: std::ops::RangeInclusive<u16>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            service_cidr: "10.96.0.0/16".parse().expect("literal CIDR"),
            node_ports: 30000..=32767,
        }
    }
}

pub struct Registry {
    store: Arc<dyn Store>,
    services: Mutex<ServiceAllocator>,
}

fn store_error(res: &Resource, name: &str, error: StoreError) -> ApiError {
    match error {
        StoreError::AlreadyExists { .. } => ApiError::already_exists(res.group, res.plural, name),
        StoreError::NotFound { .. } => ApiError::not_found(res.group, res.plural, name),
        StoreError::Conflict { .. } => ApiError::conflict(
            res.group,
            res.plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ),
        StoreError::Compacted { requested, compacted } => ApiError::gone(format!(
            "The resourceVersion for the provided list is too old. (requested {requested}, history starts after {compacted})"
        )),
        StoreError::FutureRevision { requested, current } => ApiError::timeout(format!(
            "Too large resource version: {requested}, current: {current}"
        )),
        StoreError::Backend { .. } => ApiError::internal(error.to_string()),
    }
}

/// Random suffix characters Kubernetes uses for generateName (no vowels, no look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn generated_name(prefix: &str) -> String {
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char)
        .collect();
    // Kubernetes cuts the prefix so the result stays within 63 characters.
    let max_prefix = 58;
    let prefix = if prefix.len() > max_prefix {
        &prefix[..max_prefix]
    } else {
        prefix
    };
    format!("{prefix}{suffix}")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: i64,
    start: String,
}

fn encode_continue(rv: i64, key: &str) -> String {
    use base64::Engine;
    let json = serde_json::to_vec(&ContinueToken {
        rv,
        start: key.to_string(),
    })
    .expect("token encodes");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_continue(token: &str, prefix: &str) -> Result<ContinueToken, ApiError> {
    use base64::Engine;
    let bad = || {
        ApiError::bad_request(
            "continue key is not valid: the token was not issued by this server for this list",
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|_| bad())?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if !token.start.starts_with(prefix) {
        return Err(bad());
    }
    Ok(token)
}

/// Status a created object starts with: Kubernetes resets what clients send
/// for kinds whose status is written by controllers.
fn initial_status(res: &Resource, obj: &mut Value) {
    match (res.group, res.kind) {
        ("", "Pod") => obj["status"] = json!({"phase": "Pending", "qosClass": qos_class(obj)}),
        ("", "Namespace") => obj["status"] = json!({"phase": "Active"}),
        ("", "Service") | ("networking.k8s.io", "Ingress") => {
            obj["status"] = json!({"loadBalancer": {}})
        }
        ("", "Node") => {}
        _ if res.status => {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
        _ => {}
    }
}

/// The QoS class of a pod from its containers' requests and limits.
fn qos_class(pod: &Value) -> &'static str {
    let containers: Vec<&Value> = ["containers", "initContainers"]
        .iter()
        .filter_map(|k| pod["spec"][k].as_array())
        .flatten()
        .collect();
    let resources = |c: &Value, kind: &str, name: &str| c["resources"][kind].get(name).is_some();
    let any = containers.iter().any(|c| {
        ["requests", "limits"]
            .iter()
            .any(|k| c["resources"][k].as_object().is_some_and(|m| !m.is_empty()))
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        ["cpu", "memory"].iter().all(|r| {
            resources(c, "limits", r)
                && (!resources(c, "requests", r)
                    || c["resources"]["requests"][r] == c["resources"]["limits"][r])
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

impl Registry {
    /// A registry over `store`; repairs the Service allocations from what is stored.
    pub async fn new(store: Arc<dyn Store>, config: RegistryConfig) -> anyhow::Result<Registry> {
        let mut allocator = ServiceAllocator::new(config.service_cidr, config.node_ports.clone())?;
        let services = resources::find("", "v1", "services").expect("services are served");
        let listed = store.list(&services.key_prefix(), None, None, None).await?;
        let mut stored = Vec::with_capacity(listed.kvs.len());
        for kv in &listed.kvs {
            stored.push(object::decode(kv)?);
        }
        for problem in allocator.repair(&stored) {
            tracing::warn!("service allocation repair: {problem}");
        }
        Ok(Registry {
            store,
            services: Mutex::new(allocator),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    fn key(res: &Resource, namespace: Option<&str>, name: &str) -> String {
        res.key(namespace, name)
    }

    pub async fn get(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let kv = self
            .store
            .get(&Self::key(res, namespace, name))
            .await
            .map_err(|e| store_error(res, name, e))?
            .ok_or_else(|| ApiError::not_found(res.group, res.plural, name))?;
        object::decode(&kv)
    }

    async fn get_optional(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<Value>, ApiError> {
        match self.get(res, namespace, name).await {
            Ok(obj) => Ok(Some(obj)),
            Err(e) if e.code == 404 => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The store prefix a list or watch covers.
    pub fn prefix(res: &Resource, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if res.namespaced => res.namespace_prefix(ns),
            _ => res.key_prefix(),
        }
    }

    pub async fn current_revision(&self) -> Result<i64, ApiError> {
        self.store
            .current_revision()
            .await
            .map_err(|e| ApiError::internal(e.to_string()))
    }

    pub async fn list(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        filter: &Filter,
        options: &ListOptions,
    ) -> Result<ListPage, ApiError> {
        let prefix = Self::prefix(res, namespace);
        let (mut start_after, mut revision) = self.list_start(&prefix, options).await?;
        // A pinned name reads one key instead of scanning the prefix (across
        // namespaces the name may exist in several: those scan).
        let single_key = start_after.is_none() && (namespace.is_some() || !res.namespaced);
        if let Some(name) = filter.pinned_name().filter(|_| single_key) {
            let key = Self::key(res, namespace, &name);
            let listed = self
                .store
                .list(&key, None, None, revision)
                .await
                .map_err(|e| self.list_error(e))?;
            let mut items = Vec::new();
            for kv in listed.kvs.iter().filter(|kv| kv.key == key) {
                let obj = object::decode(kv)?;
                if filter.matches(&obj) {
                    items.push(obj);
                }
            }
            return Ok(ListPage {
                items,
                revision: listed.revision,
                continue_token: None,
            });
        }
        let limit = options.limit.filter(|l| *l > 0);
        let mut items = Vec::new();
        loop {
            let want = limit.map(|l| (l - items.len()).max(64));
            let page = self
                .store
                .list(&prefix, start_after.as_deref(), want, revision)
                .await
                .map_err(|e| self.list_error(e))?;
            revision = Some(page.revision);
            let mut last_key = None;
            for kv in &page.kvs {
                last_key = Some(kv.key.clone());
                let obj = object::decode(kv)?;
                if filter.matches(&obj) {
                    items.push(obj);
                    if limit.is_some_and(|l| items.len() >= l) {
                        break;
                    }
                }
            }
            let read_all_of_page = last_key.as_deref() == page.kvs.last().map(|kv| kv.key.as_str());
            let more = page.more || !read_all_of_page;
            let rev = page.revision;
            if limit.is_some_and(|l| items.len() >= l) {
                let token = if more {
                    last_key.map(|k| encode_continue(rev, &k))
                } else {
                    None
                };
                return Ok(ListPage {
                    items,
                    revision: rev,
                    continue_token: token,
                });
            }
            if !page.more || page.kvs.is_empty() {
                return Ok(ListPage {
                    items,
                    revision: rev,
                    continue_token: None,
                });
            }
            start_after = last_key;
        }
    }

    /// A list that selects everything, as stored bytes with their
    /// resourceVersion written in: no object is parsed (lists of thousands
    /// of objects spend their time in JSON otherwise).
    pub async fn list_raw(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        options: &ListOptions,
    ) -> Result<RawListPage, ApiError> {
        let prefix = Self::prefix(res, namespace);
        let (start_after, revision) = self.list_start(&prefix, options).await?;
        let limit = options.limit.filter(|l| *l > 0);
        let page = self
            .store
            .list(&prefix, start_after.as_deref(), limit, revision)
            .await
            .map_err(|e| self.list_error(e))?;
        let mut items = Vec::with_capacity(page.kvs.len());
        for kv in &page.kvs {
            match object::with_resource_version(&kv.value, kv.mod_revision) {
                Some(bytes) => items.push(bytes),
                None => items.push(serde_json::to_vec(&object::decode(kv)?).expect("JSON encodes")),
            }
        }
        let continue_token = if page.more {
            page.kvs
                .last()
                .map(|kv| encode_continue(page.revision, &kv.key))
        } else {
            None
        };
        Ok(RawListPage {
            items,
            revision: page.revision,
            continue_token,
        })
    }

    fn list_error(&self, e: StoreError) -> ApiError {
        match e {
            StoreError::Compacted { .. } => ApiError::gone(
                "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
            ),
            other => ApiError::internal(other.to_string()),
        }
    }

    /// Where a list starts: after the continue token's key at its revision,
    /// or at the beginning at the revision the options ask for.
    async fn list_start(
        &self,
        prefix: &str,
        options: &ListOptions,
    ) -> Result<(Option<String>, Option<i64>), ApiError> {
        match &options.continue_token {
            Some(token) if !token.is_empty() => {
                let token = decode_continue(token, prefix)?;
                Ok((Some(token.start), Some(token.rv)))
            }
            _ => Ok((None, self.list_revision(options).await?)),
        }
    }

    /// The revision a list without a continue token reads at (None = now).
    async fn list_revision(&self, options: &ListOptions) -> Result<Option<i64>, ApiError> {
        let Some(rv) = options
            .resource_version
            .as_deref()
            .filter(|rv| !rv.is_empty() && *rv != "0")
        else {
            return Ok(None);
        };
        let requested: i64 = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv:?}")))?;
        let current = self.current_revision().await?;
        if requested > current {
            return Err(ApiError::timeout(format!(
                "Too large resource version: {requested}, current: {current}"
            )));
        }
        if options.resource_version_match.as_deref() == Some("Exact") {
            Ok(Some(requested))
        } else {
            Ok(None)
        }
    }

    /// Parses, normalizes and checks the kind of a body.
    fn decode_body(
        &self,
        res: &'static Resource,
        body: &Value,
        validation: FieldValidation,
    ) -> Result<(Value, Vec<String>), ApiError> {
        let api_version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
        // Kubernetes accepts an object without type meta for its URL's kind.
        let typed = !(kind.is_empty() && api_version.is_empty());
        if typed && kind != res.kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                res.kind
            )));
        }
        if typed && api_version != res.api_version() {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({api_version}) does not match the expected API version ({})",
                res.api_version()
            )));
        }
        let mut body = body.clone();
        body["apiVersion"] = json!(res.api_version());
        body["kind"] = json!(res.kind);
        let normalized = typed::normalize(res, &body)?;
        let mut warnings = Vec::new();
        if !normalized.unknown_fields.is_empty() {
            match validation {
                FieldValidation::Strict => {
                    let list = normalized
                        .unknown_fields
                        .iter()
                        .map(|f| format!("unknown field \"{f}\""))
                        .collect::<Vec<_>>()
                        .join(", ");
                    return Err(ApiError::bad_request(format!(
                        "strict decoding error: {list}"
                    )));
                }
                FieldValidation::Warn => {
                    warnings.extend(
                        normalized
                            .unknown_fields
                            .iter()
                            .map(|f| format!("unknown field \"{f}\"")),
                    );
                }
                FieldValidation::Ignore => {}
            }
        }
        Ok((normalized.object, warnings))
    }

    async fn check_namespace_open(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
    ) -> Result<(), ApiError> {
        if !res.namespaced {
            return Ok(());
        }
        let ns = namespace.ok_or_else(|| {
            ApiError::bad_request("a namespace is required for namespaced objects")
        })?;
        let namespaces = resources::find("", "v1", "namespaces").expect("namespaces are served");
        let obj = self
            .get_optional(namespaces, None, ns)
            .await?
            .ok_or_else(|| ApiError::not_found("", "namespaces", ns))?;
        if object::deletion_timestamp(&obj).is_some() {
            let mut e = ApiError::new(
                403,
                "Forbidden",
                format!("{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", res.plural, ""),
            );
            e.details = Some(
                json!({"causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]}),
            );
            return Err(e);
        }
        Ok(())
    }

    /// POST: creates an object in `namespace` (None for cluster-scoped).
    pub async fn create(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        body: &Value,
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let (mut obj, warnings) = self.decode_body(res, body, options.field_validation)?;
        self.prepare_create(res, namespace, &mut obj)?;
        self.check_namespace_open(res, namespace).await?;
        self.create_prepared(res, obj, warnings, options).await
    }

    fn prepare_create(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        obj: &mut Value,
    ) -> Result<(), ApiError> {
        let meta = meta_mut(obj);
        if res.namespaced {
            let ns = namespace.ok_or_else(|| {
                ApiError::bad_request("a namespace is required for namespaced objects")
            })?;
            match meta.get("namespace").and_then(Value::as_str) {
                Some(given) if !given.is_empty() && given != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ))
                }
                _ => {
                    meta.insert("namespace".into(), json!(ns));
                }
            }
        } else {
            meta.remove("namespace");
        }
        let has_name = meta
            .get("name")
            .and_then(Value::as_str)
            .is_some_and(|n| !n.is_empty());
        if !has_name {
            match meta
                .get("generateName")
                .and_then(Value::as_str)
                .filter(|g| !g.is_empty())
            {
                Some(prefix) => {
                    let name = generated_name(prefix);
                    meta.insert("name".into(), json!(name));
                }
                None => {
                    return Err(ApiError::invalid(
                        res.group,
                        res.kind,
                        "",
                        &[FieldError::required(
                            "metadata.name",
                            "name or generateName is required",
                        )],
                    ))
                }
            }
        }
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(object::now_rfc3339()));
        meta.remove("resourceVersion");
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
        meta.remove("selfLink");
        if has_spec_generation(res) {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        initial_status(res, obj);
        if res.kind == "Namespace" && res.group.is_empty() {
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
        }
        Ok(())
    }

    async fn create_prepared(
        &self,
        res: &'static Resource,
        mut obj: Value,
        warnings: Vec<String>,
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        defaults::apply_defaults(res, &mut obj);
        if res.group.is_empty() && res.kind == "Pod" {
            defaults::apply_pod_admission_defaults(&mut obj);
        }
        let name = object::name(&obj).to_string();
        // Validation sees the allocated addresses and ports, as in Kubernetes;
        // a refused object gives them back.
        let taken = self.allocate(res, &mut obj, None)?;
        let errors = if options.internal {
            Vec::new()
        } else {
            validation::validate_create(res, &obj)
        };
        if !errors.is_empty() {
            self.release(&taken);
            return Err(ApiError::invalid(res.group, res.kind, &name, &errors));
        }
        if options.dry_run {
            self.release(&taken);
            return Ok(Written {
                object: obj,
                warnings,
                created: true,
            });
        }
        let key = Self::key(res, object::namespace(&obj), &name);
        match self.store.create(&key, object::encode(&obj)).await {
            Ok(kv) => {
                meta_mut(&mut obj)
                    .insert("resourceVersion".into(), json!(kv.mod_revision.to_string()));
                Ok(Written {
                    object: obj,
                    warnings,
                    created: true,
                })
            }
            Err(e) => {
                self.release(&taken);
                Err(store_error(res, &name, e))
            }
        }
    }

    /// Takes what a Service needs; the returned claims are what to give back if the write fails.
    fn allocate(
        &self,
        res: &Resource,
        obj: &mut Value,
        old: Option<&Value>,
    ) -> Result<Option<Allocation>, ApiError> {
        if !is_service(res) {
            return Ok(None);
        }
        let mut allocator = self.services.lock().expect("allocator lock");
        let allocation = allocator
            .allocate(obj, old)
            .map_err(|errors| ApiError::invalid(res.group, res.kind, object::name(obj), &errors))?;
        Ok(Some(allocation))
    }

    /// Gives back what a failed write took.
    fn release(&self, allocation: &Option<Allocation>) {
        if let Some(allocation) = allocation {
            self.release_claims(&allocation.taken);
        }
    }

    /// After a committed write: gives back what the old object held and the new one does not.
    fn commit_release(&self, allocation: &Option<Allocation>) {
        if let Some(allocation) = allocation {
            self.release_claims(&allocation.released);
        }
    }

    fn release_claims(&self, claims: &Claims) {
        self.services
            .lock()
            .expect("allocator lock")
            .release(claims);
    }

    /// PUT of the object or its status.
    pub async fn update(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        body: &Value,
        part: Part,
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let (obj, warnings) = self.decode_body(res, body, options.field_validation)?;
        if object::name(&obj) != name && !object::name(&obj).is_empty() {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                object::name(&obj)
            )));
        }
        if res.namespaced {
            if let (Some(given), Some(ns)) = (object::namespace(&obj), namespace) {
                if given != ns {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
            }
        }
        let precondition = object::resource_version(&obj).map(str::to_string);
        self.write_loop(
            res,
            namespace,
            name,
            options,
            warnings,
            precondition,
            |current| Ok(merge_update(res, part, current, obj.clone())),
        )
        .await
    }

    /// PATCH of the object or its status.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        patch_type: PatchType,
        body: &[u8],
        part: Part,
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        if patch_type == PatchType::Apply
            && part == Part::Main
            && self.get_optional(res, namespace, name).await?.is_none()
        {
            return self.apply_create(res, namespace, name, body, options).await;
        }
        let manager = options.field_manager.clone().unwrap_or_default();
        if patch_type == PatchType::Apply && manager.is_empty() {
            return Err(ApiError::bad_request(
                "PATCH requests of type apply must have a fieldManager",
            ));
        }
        let force = options.force;
        self.write_loop(res, namespace, name, options, Vec::new(), None, |current| {
            let patched = match patch_type {
                PatchType::Apply => {
                    let applied = parse_apply_body(body)?;
                    patch::server_side_apply(res, Some(current), &applied, &manager, force)
                }
                other => patch::apply_patch(res, current, other, body),
            }
            .map_err(|e| patch_error(res, name, e))?;
            let (normalized, _) = self.decode_body(res, &patched, FieldValidation::Ignore)?;
            // The patched object carries the current resourceVersion unless the
            // patch set one: that one is then a precondition.
            let mut updated = merge_update(res, part, current, normalized);
            if object::resource_version(&patched) != object::resource_version(current) {
                if let Some(rv) = object::resource_version(&patched) {
                    meta_mut(&mut updated).insert("resourceVersion".into(), json!(rv));
                }
            }
            Ok(updated)
        })
        .await
    }

    async fn apply_create(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        body: &[u8],
        options: &WriteOptions,
    ) -> Result<Written, ApiError> {
        let manager = options
            .field_manager
            .clone()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| {
                ApiError::bad_request("PATCH requests of type apply must have a fieldManager")
            })?;
        let applied = parse_apply_body(body)?;
        if object::name(&applied) != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                object::name(&applied)
            )));
        }
        let created = patch::server_side_apply(res, None, &applied, &manager, options.force)
            .map_err(|e| patch_error(res, name, e))?;
        let (mut obj, warnings) = self.decode_body(res, &created, options.field_validation)?;
        meta_mut(&mut obj).insert("name".into(), json!(name));
        self.prepare_create(res, namespace, &mut obj)?;
        self.check_namespace_open(res, namespace).await?;
        self.create_prepared(res, obj, warnings, options).await
    }

    /// Reads the current object, computes the new one with `change`, and
    /// writes it if nobody wrote in between; retries otherwise unless the
    /// caller gave a resourceVersion (then a conflict is the answer).
    #[allow(clippy::too_many_arguments)]
    async fn write_loop(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        options: &WriteOptions,
        warnings: Vec<String>,
        precondition: Option<String>,
        mut change: impl FnMut(&Value) -> Result<Value, ApiError>,
    ) -> Result<Written, ApiError> {
        let key = Self::key(res, namespace, name);
        for _ in 0..CONFLICT_RETRIES {
            let current = self.get(res, namespace, name).await?;
            let current_rv = object::resource_version(&current).unwrap_or("").to_string();
            let mut new = change(&current)?;
            let wanted_rv = precondition
                .clone()
                .or_else(|| object::resource_version(&new).map(str::to_string));
            if let Some(wanted) = &wanted_rv {
                if *wanted != current_rv {
                    return Err(ApiError::conflict(
                        res.group,
                        res.plural,
                        name,
                        "the object has been modified; please apply your changes to the latest version and try again",
                    ));
                }
            }
            let expected: i64 = current_rv.parse().unwrap_or(0);
            meta_mut(&mut new).insert("resourceVersion".into(), json!(current_rv));
            defaults::apply_defaults(res, &mut new);
            if is_service(res) {
                defaults::prepare_service_update(&mut new, &current);
            }
            bump_generation(res, &current, &mut new);
            if new_equals_current(&new, &current) {
                return Ok(Written {
                    object: current,
                    warnings,
                    created: false,
                });
            }
            let taken = self.allocate(res, &mut new, Some(&current))?;
            let errors = if options.internal {
                Vec::new()
            } else {
                validation::validate_update(res, &new, &current)
            };
            if !errors.is_empty() {
                self.release(&taken);
                return Err(ApiError::invalid(res.group, res.kind, name, &errors));
            }
            if options.dry_run {
                self.release(&taken);
                return Ok(Written {
                    object: new,
                    warnings,
                    created: false,
                });
            }
            // Finalizers gone from an object marked for deletion: it goes now.
            let goes_now = object::deletion_timestamp(&new).is_some()
                && object::finalizers(&new).is_empty()
                && !is_graceful_pod(res, &new)
                && !namespace_has_content_finalizers(res, &new);
            let written = if goes_now {
                self.store.delete(&key, Some(expected)).await.map(|_| None)
            } else {
                self.store
                    .update(&key, object::encode(&new), Some(expected))
                    .await
                    .map(|kv| Some(kv.mod_revision))
            };
            match written {
                Ok(Some(revision)) => {
                    self.commit_release(&taken);
                    meta_mut(&mut new)
                        .insert("resourceVersion".into(), json!(revision.to_string()));
                }
                Ok(None) => {
                    self.release(&taken);
                    self.release_object(res, &current);
                }
                Err(StoreError::Conflict { .. }) if precondition.is_none() => {
                    self.release(&taken);
                    continue;
                }
                Err(e) => {
                    self.release(&taken);
                    return Err(store_error(res, name, e));
                }
            }
            return Ok(Written {
                object: new,
                warnings,
                created: false,
            });
        }
        Err(ApiError::conflict(
            res.group,
            res.plural,
            name,
            "the object kept changing while the server tried to write it; try again",
        ))
    }

    /// Gives back what a deleted object held.
    fn release_object(&self, res: &Resource, obj: &Value) {
        if is_service(res) {
            self.release_claims(&Claims::of(obj));
        }
    }

    /// DELETE of one object.
    pub async fn delete(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        options: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        let key = Self::key(res, namespace, name);
        for _ in 0..CONFLICT_RETRIES {
            let current = self.get(res, namespace, name).await?;
            if let Some(uid) = &options.precondition_uid {
                if object::uid(&current) != uid {
                    return Err(ApiError::conflict(
                        res.group,
                        res.plural,
                        name,
                        &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        object::uid(&current)
                    ),
                    ));
                }
            }
            let current_rv = object::resource_version(&current).unwrap_or("").to_string();
            if let Some(rv) = &options.precondition_resource_version {
                if *rv != current_rv {
                    return Err(ApiError::conflict(res.group, res.plural, name, &format!(
                        "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {current_rv}"
                    )));
                }
            }
            let expected: i64 = current_rv.parse().unwrap_or(0);
            let Some(marked) = self.mark_for_deletion(res, &current, options) else {
                if options.dry_run {
                    return Ok(Deleted {
                        object: current,
                        pending: false,
                    });
                }
                match self.store.delete(&key, Some(expected)).await {
                    Ok(_) => {
                        self.release_object(res, &current);
                        return Ok(Deleted {
                            object: current,
                            pending: false,
                        });
                    }
                    Err(StoreError::Conflict { .. }) => continue,
                    Err(StoreError::NotFound { .. }) => {
                        return Err(ApiError::not_found(res.group, res.plural, name))
                    }
                    Err(e) => return Err(store_error(res, name, e)),
                }
            };
            let mut marked = marked;
            if options.dry_run || marked == current {
                return Ok(Deleted {
                    object: current,
                    pending: true,
                });
            }
            match self
                .store
                .update(&key, object::encode(&marked), Some(expected))
                .await
            {
                Ok(kv) => {
                    meta_mut(&mut marked)
                        .insert("resourceVersion".into(), json!(kv.mod_revision.to_string()));
                    return Ok(Deleted {
                        object: marked,
                        pending: true,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_error(res, name, e)),
            }
        }
        Err(ApiError::conflict(
            res.group,
            res.plural,
            name,
            "the object kept changing while the server tried to delete it; try again",
        ))
    }

    /// The object marked for deletion when it cannot go at once (finalizers,
    /// foreground or orphan propagation, a running pod's grace period,
    /// a namespace's content); None when it can be removed now.
    fn mark_for_deletion(
        &self,
        res: &Resource,
        current: &Value,
        options: &DeleteOptions,
    ) -> Option<Value> {
        let mut obj = current.clone();
        let already = object::deletion_timestamp(current).is_some();
        let mut finalizers = object::finalizers(current);
        let propagation = options
            .propagation
            .as_deref()
            // apps/v1 and everything served here default to Background.
            .unwrap_or("Background");
        if !already {
            match propagation {
                "Foreground" if !finalizers.iter().any(|f| f == "foregroundDeletion") => {
                    finalizers.push("foregroundDeletion".into())
                }
                "Orphan" if !finalizers.iter().any(|f| f == "orphan") => {
                    finalizers.push("orphan".into())
                }
                _ => {}
            }
        }
        let is_namespace = res.group.is_empty() && res.kind == "Namespace";
        if is_namespace {
            if !already {
                meta_mut(&mut obj).insert("deletionTimestamp".into(), json!(object::now_rfc3339()));
                meta_mut(&mut obj).insert("deletionGracePeriodSeconds".into(), json!(0));
                obj["status"]["phase"] = json!("Terminating");
            }
            object::set_finalizers(&mut obj, &finalizers);
            return Some(obj);
        }
        if res.group.is_empty() && res.kind == "Pod" {
            if let Some(grace) = pod_grace(current, options) {
                let now = jiff::Timestamp::now();
                let deadline = now + jiff::SignedDuration::from_secs(grace);
                let shorter = match object::deletion_timestamp(current).and_then(object::parse_time)
                {
                    Some(existing) => deadline < existing,
                    None => true,
                };
                if shorter {
                    meta_mut(&mut obj).insert(
                        "deletionTimestamp".into(),
                        json!(object::format_time(deadline)),
                    );
                    meta_mut(&mut obj).insert("deletionGracePeriodSeconds".into(), json!(grace));
                }
                object::set_finalizers(&mut obj, &finalizers);
                return Some(obj);
            }
        }
        if finalizers.is_empty() {
            return None;
        }
        if !already {
            meta_mut(&mut obj).insert("deletionTimestamp".into(), json!(object::now_rfc3339()));
            meta_mut(&mut obj).insert("deletionGracePeriodSeconds".into(), json!(0));
        }
        object::set_finalizers(&mut obj, &finalizers);
        Some(obj)
    }

    /// DELETE of a collection: every object the filter selects.
    pub async fn delete_collection(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        filter: &Filter,
        options: &DeleteOptions,
    ) -> Result<ListPage, ApiError> {
        let page = self
            .list(res, namespace, filter, &ListOptions::default())
            .await?;
        let mut deleted = Vec::new();
        for obj in &page.items {
            match self
                .delete(res, object::namespace(obj), object::name(obj), options)
                .await
            {
                Ok(d) => deleted.push(d.object),
                Err(e) if e.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        Ok(ListPage {
            items: deleted,
            revision: page.revision,
            continue_token: None,
        })
    }

    /// POST pods/binding: assigns a pod to a node, once.
    pub async fn bind(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        node: &str,
    ) -> Result<(), ApiError> {
        let options = WriteOptions::internal();
        self.write_loop(
            res,
            namespace,
            name,
            &options,
            Vec::new(),
            None,
            |current| {
                if object::deletion_timestamp(current).is_some() {
                    return Err(ApiError::conflict(
                        res.group,
                        res.plural,
                        name,
                        "pod is being deleted, cannot be assigned to a host",
                    ));
                }
                match current["spec"]["nodeName"].as_str() {
                    Some(existing) if !existing.is_empty() => Err(ApiError::conflict(
                        res.group,
                        res.plural,
                        name,
                        &format!("pod {name} is already assigned to node {existing:?}"),
                    )),
                    _ => {
                        let mut bound = current.clone();
                        bound["spec"]["nodeName"] = json!(node);
                        mark_scheduled(&mut bound);
                        Ok(bound)
                    }
                }
            },
        )
        .await?;
        Ok(())
    }

    /// GET of the scale subresource.
    pub async fn get_scale(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let obj = self.get(res, namespace, name).await?;
        Ok(scale_of(&obj))
    }

    /// PUT or PATCH of the scale subresource: writes spec.replicas.
    pub async fn update_scale(
        &self,
        res: &'static Resource,
        namespace: Option<&str>,
        name: &str,
        change: impl Fn(&Value) -> Result<Value, ApiError>,
        options: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let written = self
            .write_loop(res, namespace, name, options, Vec::new(), None, |current| {
                let scale = change(&scale_of(current))?;
                let replicas = scale["spec"]["replicas"].as_i64().unwrap_or(0);
                if replicas < 0 {
                    return Err(ApiError::invalid("autoscaling", "Scale", name, &[FieldError::invalid(
                        "spec.replicas",
                        replicas,
                        "must be greater than or equal to 0",
                    )]));
                }
                if let Some(rv) = object::resource_version(&scale) {
                    if Some(rv) != object::resource_version(current) {
                        return Err(ApiError::conflict(res.group, res.plural, name, "the object has been modified; please apply your changes to the latest version and try again"));
                    }
                }
                let mut updated = current.clone();
                updated["spec"]["replicas"] = json!(replicas);
                Ok(updated)
            })
            .await?;
        Ok(scale_of(&written.object))
    }
}

fn parse_apply_body(body: &[u8]) -> Result<Value, ApiError> {
    patch::parse_apply_body(body).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn patch_error(res: &Resource, name: &str, e: patch::PatchError) -> ApiError {
    e.to_api_error(res, name)
}

fn is_service(res: &Resource) -> bool {
    res.group.is_empty() && res.kind == "Service"
}

/// A bound pod's PodScheduled condition turns True, as Kubernetes' binding
/// does, replacing the Unschedulable one a scheduler may have written.
fn mark_scheduled(pod: &mut Value) {
    let scheduled = json!({
        "type": "PodScheduled",
        "status": "True",
        "lastProbeTime": null,
        "lastTransitionTime": object::now_rfc3339(),
    });
    if !pod["status"].is_object() {
        pod["status"] = json!({});
    }
    let conditions = &mut pod["status"]["conditions"];
    match conditions.as_array_mut() {
        Some(list) => match list.iter_mut().find(|c| c["type"] == "PodScheduled") {
            Some(existing) => *existing = scheduled,
            None => list.push(scheduled),
        },
        None => *conditions = json!([scheduled]),
    }
}

/// Kinds whose metadata.generation counts spec changes.
fn has_spec_generation(res: &Resource) -> bool {
    !matches!(
        (res.group, res.kind),
        ("", "ConfigMap")
            | ("", "Secret")
            | ("", "Event")
            | ("", "Endpoints")
            | ("", "ServiceAccount")
    )
}

fn bump_generation(res: &Resource, current: &Value, new: &mut Value) {
    if !has_spec_generation(res) {
        return;
    }
    let generation = current["metadata"]["generation"].as_i64().unwrap_or(1);
    let changed = object::spec_part(current) != object::spec_part(new);
    // Kubernetes also counts the start of a graceful deletion for some kinds; not needed here.
    meta_mut(new).insert(
        "generation".into(),
        json!(if changed { generation + 1 } else { generation }),
    );
}

/// The object an update writes: the client's object for the part it
/// addresses, the server's fields from the current one.
fn merge_update(res: &Resource, part: Part, current: &Value, mut new: Value) -> Value {
    if part == Part::Status {
        let mut updated = current.clone();
        updated["status"] = new.get("status").cloned().unwrap_or(json!({}));
        if let Some(rv) = object::resource_version(&new) {
            meta_mut(&mut updated).insert("resourceVersion".into(), json!(rv));
        } else {
            meta_mut(&mut updated).remove("resourceVersion");
        }
        return updated;
    }
    let current_meta = current["metadata"].clone();
    let meta = meta_mut(&mut new);
    for field in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match current_meta.get(field) {
            Some(v) => meta.insert(field.into(), v.clone()),
            None => meta.remove(field),
        };
    }
    if res.status {
        match current.get("status") {
            Some(status) => new["status"] = status.clone(),
            None => {
                if let Some(m) = new.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    if res.group.is_empty() && res.kind == "Namespace" {
        new["spec"] = current["spec"].clone();
    }
    new
}

fn new_equals_current(new: &Value, current: &Value) -> bool {
    let strip = |v: &Value| {
        let mut v = v.clone();
        meta_mut(&mut v).remove("resourceVersion");
        v
    };
    strip(new) == strip(current)
}

/// A terminating namespace waits for its own spec.finalizers (its content) too.
fn namespace_has_content_finalizers(res: &Resource, obj: &Value) -> bool {
    res.group.is_empty()
        && res.kind == "Namespace"
        && obj["spec"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty())
}

/// A pod with a deletion timestamp still in its grace period waits for its kubelet.
fn is_graceful_pod(res: &Resource, obj: &Value) -> bool {
    res.group.is_empty()
        && res.kind == "Pod"
        && obj["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .is_some_and(|g| g > 0)
}

/// The grace period a pod deletion waits, or None when the pod goes at once
/// (never scheduled, already finished, or grace period 0).
fn pod_grace(pod: &Value, options: &DeleteOptions) -> Option<i64> {
    let scheduled = pod["spec"]["nodeName"]
        .as_str()
        .is_some_and(|n| !n.is_empty());
    let finished = matches!(
        pod["status"]["phase"].as_str(),
        Some("Succeeded" | "Failed")
    );
    if !scheduled || finished {
        return None;
    }
    let grace = options
        .grace_period_seconds
        .or_else(|| pod["metadata"]["deletionGracePeriodSeconds"].as_i64())
        .or_else(|| pod["spec"]["terminationGracePeriodSeconds"].as_i64())
        .unwrap_or(30);
    (grace > 0).then_some(grace)
}

fn scale_of(obj: &Value) -> Value {
    let selector = obj["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": obj["metadata"]["name"],
            "namespace": obj["metadata"]["namespace"],
            "uid": obj["metadata"]["uid"],
            "resourceVersion": obj["metadata"]["resourceVersion"],
            "creationTimestamp": obj["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": obj["spec"]["replicas"].as_i64().unwrap_or(0)},
        "status": {
            "replicas": obj["status"]["replicas"].as_i64().unwrap_or(0),
            "selector": selector,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_keep_the_prefix() {
        let name = generated_name("web-");
        assert!(name.starts_with("web-"));
        assert_eq!(name.len(), 9);
        assert!(name[4..].bytes().all(|b| NAME_ALPHABET.contains(&b)));
    }

    #[test]
    fn continue_tokens_round_trip_and_are_checked() {
        let token = encode_continue(42, "/registry/core/pods/default/web");
        let back = decode_continue(&token, "/registry/core/pods/").unwrap();
        assert_eq!(back.rv, 42);
        assert!(decode_continue(&token, "/registry/core/services/").is_err());
        assert!(decode_continue("garbage!", "/").is_err());
    }

    #[test]
    fn qos_classes() {
        assert_eq!(
            qos_class(&json!({"spec": {"containers": [{"name": "a"}]}})),
            "BestEffort"
        );
        assert_eq!(
            qos_class(
                &json!({"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}})
            ),
            "Guaranteed"
        );
        assert_eq!(
            qos_class(
                &json!({"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "1"}}}]}})
            ),
            "Burstable"
        );
    }

    #[test]
    fn status_writes_keep_everything_else() {
        let res = resources::find("", "v1", "pods").unwrap();
        let current = json!({"metadata": {"name": "p", "labels": {"a": "b"}, "resourceVersion": "5"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Pending"}});
        let body = json!({"metadata": {"name": "p", "labels": {}}, "spec": {"nodeName": "other"}, "status": {"phase": "Running"}});
        let merged = merge_update(res, Part::Status, &current, body);
        assert_eq!(merged["spec"]["nodeName"], "n1");
        assert_eq!(merged["metadata"]["labels"]["a"], "b");
        assert_eq!(merged["status"]["phase"], "Running");
        let main = merge_update(
            res,
            Part::Main,
            &current,
            json!({"metadata": {"name": "p"}, "spec": {"nodeName": "n2"}, "status": {"phase": "Failed"}}),
        );
        assert_eq!(main["status"]["phase"], "Pending");
    }

    #[test]
    fn binding_marks_the_pod_scheduled_in_place_of_an_unschedulable_condition() {
        let mut fresh = json!({"status": {"phase": "Pending"}});
        mark_scheduled(&mut fresh);
        assert_eq!(fresh["status"]["conditions"][0]["type"], "PodScheduled");
        assert_eq!(fresh["status"]["conditions"][0]["status"], "True");
        let mut refused = json!({"status": {"conditions": [
            {"type": "Ready", "status": "False"},
            {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": "0/1 nodes are available"}
        ]}});
        mark_scheduled(&mut refused);
        let conditions = refused["status"]["conditions"].as_array().unwrap();
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[1]["status"], "True");
        assert!(conditions[1].get("reason").is_none());
    }

    #[test]
    fn pods_on_nodes_wait_their_grace_period() {
        let options = DeleteOptions::default();
        assert_eq!(pod_grace(&json!({"spec": {}}), &options), None);
        assert_eq!(
            pod_grace(&json!({"spec": {"nodeName": "n"}}), &options),
            Some(30)
        );
        assert_eq!(
            pod_grace(
                &json!({"spec": {"nodeName": "n", "terminationGracePeriodSeconds": 5}}),
                &options
            ),
            Some(5)
        );
        let force = DeleteOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        assert_eq!(pod_grace(&json!({"spec": {"nodeName": "n"}}), &force), None);
        assert_eq!(
            pod_grace(
                &json!({"spec": {"nodeName": "n"}, "status": {"phase": "Succeeded"}}),
                &options
            ),
            None
        );
    }
}
