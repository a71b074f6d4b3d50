//! kube-rs, curl and failure cases against a running `podnet apiserver`, on
//! both stores.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Service};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::{reflector, watcher, WatchStreamExt};
use support::{eventually, Server};

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("v".to_string(), value.to_string())])),
        ..Default::default()
    }
}

both_stores!(watcher_sees_every_change_in_order, |backend| async move {
    let server = Server::start(backend);
    let client = server.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let (reader, writer) = reflector::store();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()));
    let events = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut stream = std::pin::pin!(stream.touched_objects());
        while let Ok(Some(Ok(cm))) =
            tokio::time::timeout(Duration::from_secs(15), stream.next()).await
        {
            let v = cm
                .data
                .as_ref()
                .and_then(|d| d.get("v"))
                .cloned()
                .unwrap_or_default();
            seen.push(format!("{}={v}", cm.metadata.name.unwrap_or_default()));
            if seen.iter().any(|s| s == "last=done") {
                break;
            }
        }
        seen
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..20 {
        api.create(&PostParams::default(), &config_map(&format!("cm-{i}"), "0"))
            .await
            .unwrap();
    }
    for i in 0..20 {
        let mut cm = api.get(&format!("cm-{i}")).await.unwrap();
        cm.data = Some(BTreeMap::from([("v".to_string(), "1".to_string())]));
        api.replace(&format!("cm-{i}"), &PostParams::default(), &cm)
            .await
            .unwrap();
    }
    api.create(&PostParams::default(), &config_map("last", "done"))
        .await
        .unwrap();
    let seen = events.await.unwrap();
    for i in 0..20 {
        let first = seen.iter().position(|s| *s == format!("cm-{i}=0"));
        let second = seen.iter().position(|s| *s == format!("cm-{i}=1"));
        assert!(second.is_some(), "update of cm-{i} seen: {seen:?}");
        if let (Some(a), Some(b)) = (first, second) {
            assert!(a < b, "cm-{i} changes in order: {seen:?}");
        }
    }
    assert!(
        eventually(Duration::from_secs(5), || reader.state().len() >= 21),
        "the reflector holds every object"
    );
});

both_stores!(
    stale_update_conflicts_and_invalid_objects_have_causes,
    |backend| async move {
        let server = Server::start(backend);
        let client = server.client().await;
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let created = api
            .create(&PostParams::default(), &config_map("c", "1"))
            .await
            .unwrap();
        let mut first = created.clone();
        first.data = Some(BTreeMap::from([("v".into(), "2".into())]));
        api.replace("c", &PostParams::default(), &first)
            .await
            .unwrap();
        let mut stale = created.clone();
        stale.data = Some(BTreeMap::from([("v".into(), "3".into())]));
        match api.replace("c", &PostParams::default(), &stale).await {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 409);
                assert_eq!(status.reason, "Conflict");
            }
            other => panic!("a stale update must be a 409, got {other:?}"),
        }
        match api
            .create(&PostParams::default(), &config_map("c", "1"))
            .await
        {
            Err(kube::Error::Api(status)) => assert_eq!(
                (status.code, status.reason.as_str()),
                (409, "AlreadyExists")
            ),
            other => panic!("creating an existing name must be 409 AlreadyExists, got {other:?}"),
        }
        let services: Api<Service> = Api::namespaced(client.clone(), "default");
        let bad: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "Bad_Name"},
            "spec": {"ports": [{"port": 0}], "selector": {"app": "x"}}
        }))
        .unwrap();
        let raw = client
            .request_text(
                http::Request::post("/api/v1/namespaces/default/services")
                    .header("content-type", "application/json")
                    .body(serde_json::to_vec(&bad).unwrap())
                    .unwrap(),
            )
            .await;
        match raw {
            Err(kube::Error::Api(status)) => {
                assert_eq!(status.code, 422);
                assert_eq!(status.reason, "Invalid");
            }
            other => panic!("an invalid object must be 422, got {other:?}"),
        }
        let text = server.curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &serde_json::to_string(&bad).unwrap(),
                &format!("{}/api/v1/namespaces/default/services", server.url()),
            ],
            true,
        );
        let status: serde_json::Value = serde_json::from_slice(&text.stdout).unwrap();
        let fields: Vec<&str> = status["details"]["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["field"].as_str().unwrap())
            .collect();
        assert!(fields.contains(&"metadata.name"), "{status}");
        assert!(fields.contains(&"spec.ports[0].port"), "{status}");
        assert!(services.get_opt("Bad_Name").await.unwrap().is_none());
    }
);

both_stores!(
    compaction_expires_old_versions_and_watchers_recover,
    |backend| async move {
        let server = Server::start_with(backend, &["--compaction-interval", "1"]);
        let client = server.client().await;
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let first = api
            .create(&PostParams::default(), &config_map("old", "1"))
            .await
            .unwrap();
        let old_rv = first.metadata.resource_version.clone().unwrap();
        for i in 0..5 {
            api.create(&PostParams::default(), &config_map(&format!("n{i}"), "1"))
                .await
                .unwrap();
        }
        // Two compaction ticks make the first version history.
        tokio::time::sleep(Duration::from_millis(2500)).await;
        api.create(&PostParams::default(), &config_map("after", "1"))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let mut stream = api
            .watch(&WatchParams::default(), &old_rv)
            .await
            .unwrap()
            .boxed();
        let mut expired = false;
        while let Ok(Some(event)) =
            tokio::time::timeout(Duration::from_secs(5), stream.next()).await
        {
            if let Ok(WatchEvent::Error(status)) = event {
                assert_eq!(status.code, 410, "{status:?}");
                expired = true;
                break;
            }
        }
        assert!(expired, "a watch from a compacted version gets 410 Expired");
        // The watcher re-lists and goes on.
        let (reader, writer) = reflector::store();
        let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()));
        let task = tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream.applied_objects());
            while let Ok(Some(item)) =
                tokio::time::timeout(Duration::from_secs(10), stream.next()).await
            {
                if let Ok(cm) = item {
                    if cm.metadata.name.as_deref() == Some("later") {
                        return true;
                    }
                }
            }
            false
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        api.create(&PostParams::default(), &config_map("later", "1"))
            .await
            .unwrap();
        assert!(task.await.unwrap());
        assert!(reader.state().len() >= 7);
    }
);

both_stores!(
    restart_keeps_objects_and_watches_resume,
    |backend| async move {
        let mut server = Server::start(backend);
        let client = server.client().await;
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        for i in 0..10 {
            api.create(
                &PostParams::default(),
                &config_map(&format!("keep-{i}"), "1"),
            )
            .await
            .unwrap();
        }
        let list = api.list(&ListParams::default()).await.unwrap();
        let rv = list.metadata.resource_version.unwrap();
        server.kill();
        server.restart();
        let client = server.client().await;
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
        let names: Vec<String> = api
            .list(&ListParams::default())
            .await
            .unwrap()
            .items
            .into_iter()
            .filter_map(|c| c.metadata.name)
            .collect();
        for i in 0..10 {
            assert!(names.contains(&format!("keep-{i}")), "{names:?}");
        }
        // A watch from the version before the restart sees what came after it.
        let mut stream = api
            .watch(&WatchParams::default(), &rv)
            .await
            .unwrap()
            .boxed();
        api.create(&PostParams::default(), &config_map("after-restart", "1"))
            .await
            .unwrap();
        let mut seen = false;
        while let Ok(Some(Ok(event))) =
            tokio::time::timeout(Duration::from_secs(10), stream.next()).await
        {
            if let WatchEvent::Added(cm) = event {
                if cm.metadata.name.as_deref() == Some("after-restart") {
                    seen = true;
                    break;
                }
            }
        }
        assert!(seen, "the watch resumes from the old version");
        // Pagination of a list as kube-rs does it.
        let page = api.list(&ListParams::default().limit(4)).await.unwrap();
        assert_eq!(page.items.len(), 4);
        let token = page.metadata.continue_.clone().expect("a continue token");
        let next = api
            .list(&ListParams::default().limit(100).continue_token(&token))
            .await
            .unwrap();
        assert_eq!(
            page.items.len() + next.items.len(),
            11,
            "every object once: 10 before the restart and one after"
        );
        assert!(next.metadata.continue_.as_deref().unwrap_or("").is_empty());
    }
);

both_stores!(
    bad_input_gets_a_status_and_stores_nothing,
    |backend| async move {
        let server = Server::start(backend);
        let url = format!("{}/api/v1/namespaces/default/configmaps", server.url());
        let post = |body: &str, content_type: &str| {
            let out = server.curl(
                &[
                    "-X",
                    "POST",
                    "-H",
                    &format!("Content-Type: {content_type}"),
                    "--data-binary",
                    body,
                    "-w",
                    "\n%{http_code}",
                    &url,
                ],
                true,
            );
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            let (body, code) = text.rsplit_once('\n').unwrap();
            (
                code.to_string(),
                serde_json::from_str::<serde_json::Value>(body).unwrap_or(serde_json::Value::Null),
            )
        };
        let (code, status) = post("{not json", "application/json");
        assert_eq!(code, "400");
        assert_eq!(status["kind"], "Status");
        let (code, status) = post("a: [unclosed", "application/yaml");
        assert_eq!(code, "400", "{status}");
        let (code, status) = post(
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#,
            "application/json",
        );
        assert_eq!(code, "400", "{status}");
        assert!(
            status["message"].as_str().unwrap().contains("Secret"),
            "{status}"
        );
        let (code, _) = post(
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":5}}"#,
            "application/json",
        );
        assert_eq!(code, "400");
        let huge = format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"huge"}},"data":{{"a":"{}"}}}}"#,
            "x".repeat(4 * 1024 * 1024)
        );
        let path = support::write(server.dir.path(), "huge.json", &huge);
        let out = server.curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                &format!("@{}", path.display()),
                "-w",
                "\n%{http_code}",
                &url,
            ],
            true,
        );
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.ends_with("413"),
            "{}",
            &text[text.len().saturating_sub(300)..]
        );
        // A protobuf body that is not one, and a media type the server does not read.
        let json_body = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}"#;
        let (code, status) = post(json_body, "application/vnd.kubernetes.protobuf");
        assert_eq!(code, "400", "{status}");
        assert!(
            status["message"].as_str().unwrap().contains("protobuf"),
            "{status}"
        );
        let (code, status) = post(json_body, "text/plain");
        assert_eq!(code, "415", "{status}");
        let listed = server.kubectl_ok(&["get", "cm", "-o", "name"]);
        assert_eq!(listed.trim(), "", "nothing was stored: {listed}");
    }
);

both_stores!(tokens_and_unauthenticated_requests, |backend| async move {
    let server = Server::start(backend);
    let out = server.curl(
        &[
            "-w",
            "\n%{http_code}",
            &format!("{}/api/v1/namespaces", server.url()),
        ],
        false,
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    assert_eq!(code, "401");
    let status: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["code"], 401);
    // A token issued for a node agent works at once, without a restart.
    let kubeconfig = server.dir.path().join("node-1.kubeconfig");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_podnet"))
        .args([
            "token",
            "create",
            "system:node:node-1",
            "--groups",
            "system:nodes",
            "--data-dir",
        ])
        .arg(server.dir.path())
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = std::process::Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .args(["get", "namespaces", "-o", "name"])
        .output()
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let names = String::from_utf8_lossy(&listed.stdout);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.contains(&format!("namespace/{ns}")), "{names}");
    }
    // The kubernetes Service's endpoints are the server itself.
    let ep = server.kubectl_ok(&[
        "get",
        "endpoints",
        "kubernetes",
        "-o",
        "jsonpath={.subsets[0].addresses[0].ip}:{.subsets[0].ports[0].port}",
    ]);
    assert_eq!(ep, format!("127.0.0.1:{}", server.port));
});

both_stores!(
    pods_wait_for_their_grace_period_and_selectors_filter,
    |backend| async move {
        let server = Server::start(backend);
        let client = server.client().await;
        let pods: Api<Pod> = Api::namespaced(client.clone(), "default");
        let pod = |name: &str, node: &str| -> Pod {
            serde_json::from_value(serde_json::json!({
            "metadata": {"name": name, "labels": {"app": "x"}},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 2, "containers": [{"name": "c", "image": "busybox"}]}
        }))
        .unwrap()
        };
        pods.create(&PostParams::default(), &pod("on-1", "node-1"))
            .await
            .unwrap();
        pods.create(&PostParams::default(), &pod("on-2", "node-2"))
            .await
            .unwrap();
        let on_1 = pods
            .list(&ListParams::default().fields("spec.nodeName=node-1"))
            .await
            .unwrap();
        assert_eq!(on_1.items.len(), 1);
        let pending = pods
            .list(
                &ListParams::default()
                    .fields("status.phase=Pending")
                    .labels("app=x"),
            )
            .await
            .unwrap();
        assert_eq!(pending.items.len(), 2);
        let err = pods
            .list(&ListParams::default().fields("spec.bogus=x"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, kube::Error::Api(ref s) if s.code == 400),
            "{err:?}"
        );
        // Graceful deletion: marked first, gone once the grace period ran out on a node that does not exist.
        pods.delete("on-1", &DeleteParams::default()).await.unwrap();
        let marked = pods.get("on-1").await.unwrap();
        assert!(marked.metadata.deletion_timestamp.is_some());
        assert_eq!(marked.metadata.deletion_grace_period_seconds, Some(2));
        let gone = async {
            for _ in 0..100 {
                if pods.get_opt("on-1").await.unwrap().is_none() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        };
        assert!(
            gone.await,
            "the pod goes once its grace period ran out on a gone node"
        );
        // A kubelet's confirmation (grace period 0) removes it at once.
        pods.delete("on-2", &DeleteParams::default()).await.unwrap();
        pods.delete(
            "on-2",
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(pods.get_opt("on-2").await.unwrap().is_none());
        let all: Vec<_> = pods.list(&ListParams::default()).await.unwrap().items;
        assert!(all.is_empty());
    }
);
