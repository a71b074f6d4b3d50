//! kubectl against a running `podnet apiserver`, as a user would use it, on
//! both stores.

mod support;

use std::time::Duration;

use support::{eventually, Server};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.53
        args: ["netexec", "--http-port=8080"]
        ports:
        - {name: http, containerPort: 8080}
        env:
        - {name: MODE, value: one}
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
"#;

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

both_stores!(
    apply_create_then_change_then_apply_again,
    |backend| async move {
        let server = Server::start(backend);
        let out = server.apply(DEPLOYMENT);
        assert!(out.contains("deployment.apps/web created"), "{out}");
        assert!(out.contains("service/web created"), "{out}");
        // Applying the same manifest again changes nothing.
        let out = server.apply(DEPLOYMENT);
        assert!(out.contains("deployment.apps/web unchanged"), "{out}");
        let generation = server.kubectl_ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.metadata.generation}",
        ]);
        assert_eq!(generation, "1");
        // Change the replicas, an env value and add a container port: strategic merge by name.
        let changed = DEPLOYMENT
        .replace("replicas: 2", "replicas: 3")
        .replace("value: one", "value: two")
        .replace("- {name: http, containerPort: 8080}", "- {name: http, containerPort: 8080}\n        - {name: metrics, containerPort: 9090}");
        let out = server.apply(&changed);
        assert!(out.contains("deployment.apps/web configured"), "{out}");
        let yaml = server.kubectl_ok(&["get", "deploy", "web", "-o", "yaml"]);
        let doc: serde_yaml::Value = serde_yaml::from_str(&yaml).unwrap();
        assert_eq!(doc["spec"]["replicas"].as_i64(), Some(3));
        assert_eq!(doc["metadata"]["generation"].as_i64(), Some(2));
        let container = &doc["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(container["env"][0]["value"].as_str(), Some("two"));
        assert_eq!(container["ports"].as_sequence().map(|s| s.len()), Some(2));
        // Defaults as Kubernetes sets them.
        assert_eq!(
            doc["spec"]["strategy"]["type"].as_str(),
            Some("RollingUpdate")
        );
        assert_eq!(container["ports"][0]["protocol"].as_str(), Some("TCP"));
        assert_eq!(
            doc["spec"]["template"]["spec"]["dnsPolicy"].as_str(),
            Some("ClusterFirst")
        );
        assert!(
            doc["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
                .is_string()
        );
        // Removing the second port again in the manifest removes it from the object.
        let out =
            server.apply(&changed.replace("\n        - {name: metrics, containerPort: 9090}", ""));
        assert!(out.contains("configured"), "{out}");
        let ports = server.kubectl_ok(&[
            "get",
            "deploy",
            "web",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].ports[*].name}",
        ]);
        assert_eq!(ports, "http");
        // Server-side apply creates and merges with a field manager.
        let cm =
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  a: \"1\"\n";
        let out = server.kubectl_stdin(&["apply", "--server-side", "-f", "-"], Some(cm));
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("configmap/settings serverside-applied"),
            "{}",
            stdout(&out)
        );
        let out = server.kubectl_stdin(
            &["apply", "--server-side", "-f", "-"],
            Some(&cm.replace("a: \"1\"", "a: \"1\"\n  b: \"2\"")),
        );
        assert!(out.status.success(), "{}", stderr(&out));
        let data = server.kubectl_ok(&["get", "cm", "settings", "-o", "jsonpath={.data.b}"]);
        assert_eq!(data, "2");
    }
);

both_stores!(
    get_wide_columns_describe_and_explain,
    |backend| async move {
        let server = Server::start(backend);
        server.apply(DEPLOYMENT);
        let pod = r#"
apiVersion: v1
kind: Pod
metadata: {name: client, labels: {role: client}}
spec:
  nodeName: node-1
  containers: [{name: c, image: busybox, command: ["sleep", "3600"]}]
"#;
        server.apply(pod);
        // Status as a kubelet would write it.
        let status = r#"{"status":{"phase":"Running","podIP":"10.244.1.5","podIPs":[{"ip":"10.244.1.5"}],"hostIP":"172.30.0.11",
        "conditions":[{"type":"Ready","status":"True"}],
        "containerStatuses":[{"name":"c","ready":true,"restartCount":2,"image":"busybox","imageID":"","started":true,"state":{"running":{"startedAt":"2026-01-01T00:00:00Z"}}}]}}"#;
        server.kubectl_ok(&[
            "patch",
            "pod",
            "client",
            "--subresource=status",
            "--type=merge",
            "-p",
            status,
        ]);
        let wide = server.kubectl_ok(&["get", "pods", "-o", "wide"]);
        let header: Vec<&str> = wide.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            &header[..8],
            &[
                "NAME",
                "READY",
                "STATUS",
                "RESTARTS",
                "AGE",
                "IP",
                "NODE",
                "NOMINATED"
            ],
            "{wide}"
        );
        let row = wide
            .lines()
            .find(|l| l.starts_with("client"))
            .expect("client row");
        let cells: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(cells[1], "1/1", "{row}");
        assert_eq!(cells[2], "Running", "{row}");
        assert_eq!(cells[3], "2", "{row}");
        assert_eq!(cells[5], "10.244.1.5", "{row}");
        assert_eq!(cells[6], "node-1", "{row}");
        let svc = server.kubectl_ok(&["get", "svc"]);
        let header: Vec<&str> = svc.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            vec![
                "NAME",
                "TYPE",
                "CLUSTER-IP",
                "EXTERNAL-IP",
                "PORT(S)",
                "AGE"
            ],
            "{svc}"
        );
        let web = svc.lines().find(|l| l.starts_with("web")).expect("web row");
        let cells: Vec<&str> = web.split_whitespace().collect();
        assert_eq!(cells[1], "ClusterIP");
        assert!(cells[2].starts_with("10.96."), "{web}");
        assert_eq!(cells[3], "<none>");
        assert_eq!(cells[4], "80/TCP");
        let kubernetes = svc
            .lines()
            .find(|l| l.starts_with("kubernetes"))
            .expect("kubernetes service");
        assert!(
            kubernetes.contains("10.96.0.1 ") && kubernetes.contains("443/TCP"),
            "{kubernetes}"
        );
        let deploy = server.kubectl_ok(&["get", "deploy"]);
        assert!(
            deploy.starts_with("NAME") && deploy.contains("READY") && deploy.contains("UP-TO-DATE"),
            "{deploy}"
        );
        // An event written by a controller shows up in describe.
        let uid = server.kubectl_ok(&["get", "pod", "client", "-o", "jsonpath={.metadata.uid}"]);
        let event = format!(
            r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"client.1","namespace":"default"}},
        "involvedObject":{{"kind":"Pod","namespace":"default","name":"client","uid":"{uid}","apiVersion":"v1"}},
        "reason":"Scheduled","message":"Successfully assigned default/client to node-1","type":"Normal",
        "source":{{"component":"default-scheduler"}},"firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":"2026-01-01T00:00:00Z","count":1}}"#
        );
        server.kubectl_stdin(&["create", "-f", "-"], Some(&event));
        let describe = server.kubectl_ok(&["describe", "pod", "client"]);
        assert!(
            describe.contains("Successfully assigned default/client to node-1"),
            "{describe}"
        );
        assert!(
            describe.contains("Node:") && describe.contains("node-1"),
            "{describe}"
        );
        let explain = server.kubectl_ok(&["explain", "pods.spec.containers.ports"]);
        assert!(explain.contains("containerPort"), "{explain}");
        let all = server.kubectl_ok(&["get", "all"]);
        assert!(
            all.contains("deployment.apps/web")
                && all.contains("service/web")
                && all.contains("pod/client"),
            "{all}"
        );
    }
);

both_stores!(label_annotate_patch_scale_delete, |backend| async move {
    let server = Server::start(backend);
    server.apply(DEPLOYMENT);
    server.kubectl_ok(&["label", "deploy", "web", "tier=frontend"]);
    server.kubectl_ok(&["annotate", "deploy", "web", "owner=team-a"]);
    let selected = server.kubectl_ok(&[
        "get",
        "deploy",
        "-l",
        "tier in (frontend,backend),app=web",
        "-o",
        "name",
    ]);
    assert_eq!(selected.trim(), "deployment.apps/web");
    let none = server.kubectl_ok(&["get", "deploy", "-l", "tier!=frontend", "-o", "name"]);
    assert_eq!(none.trim(), "");
    server.kubectl_ok(&["label", "deploy", "web", "tier-"]);
    let labels = server.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.metadata.labels}"]);
    assert!(!labels.contains("tier"), "{labels}");
    // Patches of each type.
    server.kubectl_ok(&["patch", "deploy", "web", "-p", r#"{"spec":{"template":{"spec":{"containers":[{"name":"netexec","image":"agnhost:2.54"}]}}}}"#]);
    server.kubectl_ok(&[
        "patch",
        "deploy",
        "web",
        "--type=merge",
        "-p",
        r#"{"spec":{"minReadySeconds":5}}"#,
    ]);
    server.kubectl_ok(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/revisionHistoryLimit","value":3}]"#,
    ]);
    let got = server.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.template.spec.containers[0].image} {.spec.minReadySeconds} {.spec.revisionHistoryLimit} {.spec.template.spec.containers[0].args[0]}"]);
    assert_eq!(got, "agnhost:2.54 5 3 netexec");
    let failed = server.kubectl(&[
        "patch",
        "deploy",
        "web",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/spec/replicas","value":99}]"#,
    ]);
    assert!(!failed.status.success());
    // Scale through the scale subresource.
    server.kubectl_ok(&["scale", "deploy", "web", "--replicas=5"]);
    let replicas = server.kubectl_ok(&["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "5");
    // Delete waits until the object is gone.
    let out = server.kubectl_ok(&["delete", "deploy", "web"]);
    assert!(out.contains("deployment.apps \"web\" deleted"), "{out}");
    let gone = server.kubectl(&["get", "deploy", "web"]);
    assert!(!gone.status.success());
    assert!(
        stderr(&gone).contains("deployments.apps \"web\" not found"),
        "{}",
        stderr(&gone)
    );
    let out = server.kubectl_ok(&["delete", "svc", "web"]);
    assert!(out.contains("service \"web\" deleted"), "{out}");
});

both_stores!(get_watch_prints_changes, |backend| async move {
    let server = Server::start(backend);
    server.kubectl_ok(&["create", "configmap", "watched", "--from-literal=a=1"]);
    let mut child = std::process::Command::new("kubectl")
        .args([
            "--kubeconfig",
            server.kubeconfig().to_str().unwrap(),
            "get",
            "configmaps",
            "-w",
            "--request-timeout=0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    server.kubectl_ok(&["create", "configmap", "second", "--from-literal=b=2"]);
    server.kubectl_ok(&["delete", "configmap", "watched"]);
    std::thread::sleep(Duration::from_millis(1500));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let text = stdout(&out);
    assert!(
        text.lines().next().unwrap_or("").starts_with("NAME"),
        "{text}\n{}",
        stderr(&out)
    );
    assert!(text.lines().any(|l| l.starts_with("watched")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("second")), "{text}");
    assert!(
        text.lines().filter(|l| l.starts_with("watched")).count() >= 2,
        "the deletion is printed too: {text}"
    );
});

both_stores!(validation_errors_name_the_fields, |backend| async move {
    let server = Server::start(backend);
    let bad = r#"
apiVersion: v1
kind: Service
metadata: {name: bad}
spec:
  ports: [{port: 70000, protocol: UDPX}]
"#;
    let out = server.kubectl_stdin(&["apply", "-f", "-"], Some(bad));
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("spec.ports[0].port"), "{err}");
    assert!(err.contains("spec.ports[0].protocol"), "{err}");
    // kubectl validates against the server without --validate=false: unknown fields are refused.
    let typo = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: typo}\ndatta: {a: b}\n";
    let out = server.kubectl_stdin(&["apply", "-f", "-"], Some(typo));
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("unknown field \"datta\""),
        "{}",
        stderr(&out)
    );
    let absent = server.kubectl(&["get", "svc", "bad"]);
    assert!(
        !absent.status.success(),
        "nothing is stored for a refused object"
    );
    // Unknown resources are a 404.
    let out = server.kubectl(&["get", "--raw", "/apis/batch/v1/jobs"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("NotFound")
            || stderr(&out).contains("not found")
            || stderr(&out).contains("could not find"),
        "{}",
        stderr(&out)
    );
});

both_stores!(namespace_deletion_takes_its_content, |backend| async move {
    let server = Server::start(backend);
    server.kubectl_ok(&["create", "namespace", "team"]);
    server.kubectl_ok(&[
        "-n",
        "team",
        "create",
        "configmap",
        "a",
        "--from-literal=x=1",
    ]);
    server.kubectl_ok(&[
        "-n",
        "team",
        "create",
        "service",
        "clusterip",
        "s",
        "--tcp=80:8080",
    ]);
    let sa = eventually(Duration::from_secs(5), || {
        server
            .kubectl(&["-n", "team", "get", "sa", "default"])
            .status
            .success()
    });
    assert!(sa, "a new namespace gets its default service account");
    server.kubectl_ok(&[
        "delete",
        "namespace",
        "team",
        "--wait=true",
        "--timeout=30s",
    ]);
    let out = server.kubectl(&["get", "namespace", "team"]);
    assert!(!out.status.success());
    let left = server.kubectl_ok(&["get", "configmaps,services", "-n", "team", "-o", "name"]);
    assert_eq!(left.trim(), "");
    let out = server.kubectl(&["-n", "team", "create", "configmap", "late"]);
    assert!(
        !out.status.success(),
        "no content in a namespace that is gone"
    );
});

both_stores!(
    owner_references_are_garbage_collected,
    |backend| async move {
        let server = Server::start(backend);
        server.kubectl_ok(&["create", "configmap", "owner"]);
        let uid = server.kubectl_ok(&["get", "cm", "owner", "-o", "jsonpath={.metadata.uid}"]);
        let dependent = |name: &str| {
            format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  ownerReferences:\n  - {{apiVersion: v1, kind: ConfigMap, name: owner, uid: {uid}}}\n"
        )
        };
        server.apply(&dependent("child-a"));
        server.apply(&dependent("child-b"));
        // Background: the owner goes at once, its dependents after.
        server.kubectl_ok(&["delete", "cm", "owner"]);
        let collected = eventually(Duration::from_secs(10), || {
            server
                .kubectl_ok(&["get", "cm", "-o", "name"])
                .lines()
                .all(|l| !l.contains("child-"))
        });
        assert!(collected, "dependents are deleted after their owner");
        // Orphan: the dependents stay and lose their owner reference.
        server.kubectl_ok(&["create", "configmap", "owner2"]);
        let uid2 = server.kubectl_ok(&["get", "cm", "owner2", "-o", "jsonpath={.metadata.uid}"]);
        server.apply(
            &dependent("kept")
                .replace(&uid, &uid2)
                .replace("name: owner,", "name: owner2,"),
        );
        server.kubectl_ok(&["delete", "cm", "owner2", "--cascade=orphan"]);
        assert!(eventually(Duration::from_secs(10), || !server
            .kubectl(&["get", "cm", "owner2"])
            .status
            .success()));
        let refs = server.kubectl_ok(&[
            "get",
            "cm",
            "kept",
            "-o",
            "jsonpath={.metadata.ownerReferences}",
        ]);
        assert_eq!(
            refs.trim(),
            "",
            "orphaned dependents lose the owner reference"
        );
        // Foreground: the owner waits for its dependents.
        server.kubectl_ok(&["create", "configmap", "owner3"]);
        let uid3 = server.kubectl_ok(&["get", "cm", "owner3", "-o", "jsonpath={.metadata.uid}"]);
        server.apply(
            &dependent("fg")
                .replace(&uid, &uid3)
                .replace("name: owner,", "name: owner3,"),
        );
        server.kubectl_ok(&[
            "delete",
            "cm",
            "owner3",
            "--cascade=foreground",
            "--wait=true",
            "--timeout=30s",
        ]);
        assert!(!server.kubectl(&["get", "cm", "fg"]).status.success());
        assert!(!server.kubectl(&["get", "cm", "owner3"]).status.success());
    }
);

both_stores!(cluster_ips_and_node_ports, |backend| async move {
    let mut server = Server::start(backend);
    let svc = |name: &str, extra: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n  selector: {{app: x}}\n  ports: [{{port: 80}}]\n{extra}")
    };
    server.apply(&svc("fixed", "  clusterIP: 10.96.0.10\n"));
    let out = server.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&svc("clash", "  clusterIP: 10.96.0.10\n")),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("provided IP is already allocated"),
        "{}",
        stderr(&out)
    );
    let out = server.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&svc("outside", "  clusterIP: 192.168.1.1\n")),
    );
    assert!(!out.status.success());
    server.apply(&svc("np", "  type: NodePort\n"));
    let port: u16 = server
        .kubectl_ok(&[
            "get",
            "svc",
            "np",
            "-o",
            "jsonpath={.spec.ports[0].nodePort}",
        ])
        .parse()
        .unwrap();
    assert!((30000..=32767).contains(&port));
    let lb = svc(
        "lb",
        "  type: LoadBalancer\n  externalTrafficPolicy: Local\n",
    );
    server.apply(&lb);
    let hc = server.kubectl_ok(&[
        "get",
        "svc",
        "lb",
        "-o",
        "jsonpath={.spec.healthCheckNodePort}",
    ]);
    assert!(hc.parse::<u16>().is_ok(), "{hc}");
    // After a restart the allocations are repaired from what is stored.
    server.restart();
    let out = server.kubectl_stdin(
        &["apply", "-f", "-"],
        Some(&svc("clash2", "  clusterIP: 10.96.0.10\n")),
    );
    assert!(!out.status.success(), "allocation survives a restart");
    let same_port = svc(
        "np2",
        &format!("  type: NodePort\n  ports: [{{port: 80, nodePort: {port}}}]\n"),
    )
    .replace("  ports: [{port: 80}]\n", "");
    let out = server.kubectl_stdin(&["apply", "-f", "-"], Some(&same_port));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("provided port is already allocated"),
        "{}",
        stderr(&out)
    );
    // Deleting releases.
    server.kubectl_ok(&["delete", "svc", "fixed"]);
    server.apply(&svc("reuse", "  clusterIP: 10.96.0.10\n"));
});
