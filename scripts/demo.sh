#!/usr/bin/env bash
# (containerd 1.6, Debian 12's, speaks CNI up to 1.0.0, hence the config version.)
#
# The main job until `podnet up` lands: a busybox container started by a real
# containerd (`ctr run --cni`) gets its network from podnet-cni; it prints its
# interface, address and routes, and reaches its gateway.
#
# Everything runs in a throwaway "node" network namespace (podnet-demo-node), so the
# bridge and nftables rules the plugin makes never touch the host's networking. The
# script starts a private containerd (own root, state and socket) and removes all it
# made when it ends, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it creates network namespaces)" >&2; exit 1; }
./scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p podnet-cni -p podnet --quiet

NODE=podnet-demo-node
WORK=/run/podnet-demo
SOCK=$WORK/containerd.sock
CONF=/etc/cni/net.d/00-podnet-demo.conflist
BIN=/opt/cni/bin/podnet-cni
made_bin=""

cleanup() {
    set +e
    for id in podnet-demo-1 podnet-demo-2; do
        ip netns exec "$NODE" ctr -a "$SOCK" task kill -s KILL "$id" >/dev/null 2>&1
        ip netns exec "$NODE" ctr -a "$SOCK" task delete "$id" >/dev/null 2>&1
        ip netns exec "$NODE" ctr -a "$SOCK" container delete "$id" >/dev/null 2>&1
    done
    [ -n "${CTRD_PID:-}" ] && kill "$CTRD_PID" 2>/dev/null && wait "$CTRD_PID" 2>/dev/null
    [ -n "${API_PID:-}" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
    rm -f "$CONF"
    [ -n "$made_bin" ] && rm -f "$BIN"
    ip netns del "$NODE" 2>/dev/null
    grep -o " $WORK[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

cleanup
mkdir -p "$WORK/rootfs/bin" /etc/cni/net.d /opt/cni/bin
if [ ! -e "$BIN" ]; then ln -s "$PWD/target/release/podnet-cni" "$BIN"; made_bin=1; fi
cp /bin/busybox "$WORK/rootfs/bin/busybox"
for t in sh ip ping wget cat sleep hostname; do ln -sf busybox "$WORK/rootfs/bin/$t"; done
mkdir -p "$WORK/rootfs/proc" "$WORK/rootfs/sys" "$WORK/rootfs/dev" "$WORK/rootfs/tmp"

cat > "$CONF" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "podnet-demo",
  "plugins": [{
    "type": "podnet-cni",
    "bridge": "podnet0",
    "isGateway": true,
    "isDefaultGateway": true,
    "ipMasq": true,
    "ipam": {"type": "podnet-ipam", "ranges": [[{"subnet": "10.244.1.0/24"}]], "dataDir": "$WORK/ipam"},
    "stateDir": "$WORK/state",
    "capabilities": {"portMappings": true}
  }]
}
JSON

cat > "$WORK/containerd.toml" <<TOML
version = 2
root = "$WORK/root"
state = "$WORK/state-ctrd"
[grpc]
  address = "$SOCK"
TOML
ip netns add "$NODE"
ip -n "$NODE" link set lo up
containerd --config "$WORK/containerd.toml" >"$WORK/containerd.log" 2>&1 &
CTRD_PID=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done

echo "== two busybox containers through containerd + podnet-cni (node namespace $NODE)"
for id in podnet-demo-1 podnet-demo-2; do
    ip netns exec "$NODE" ctr -a "$SOCK" run -d --cni --rootfs "$WORK/rootfs" "$id" /bin/sh -c 'sleep 300'
done
for id in podnet-demo-1 podnet-demo-2; do
    echo "-- $id"
    ip netns exec "$NODE" ctr -a "$SOCK" task exec --exec-id show "$id" /bin/sh -c \
        'ip -4 -o addr show dev eth0 | awk "{print \"interface\", \$2, \"address\", \$4}"; ip route | sed "s/^/route: /"'
done
peer=$(ip netns exec "$NODE" ctr -a "$SOCK" task exec --exec-id ip podnet-demo-2 /bin/sh -c "ip -4 -o addr show dev eth0" | awk '{print $4}' | cut -d/ -f1)
echo "-- podnet-demo-1 pings podnet-demo-2 ($peer)"
ip netns exec "$NODE" ctr -a "$SOCK" task exec --exec-id ping podnet-demo-1 /bin/ping -c 2 -W 2 "$peer"
echo "-- node side: bridge, veths, and the nftables table podnet-cni owns"
ip -n "$NODE" -br link show master podnet0
ip netns exec "$NODE" nft list table inet podnet-cni | grep -E 'elements|masq-pods4' | head -5

echo
echo "== the Kubernetes API: podnet apiserver (embedded store) with kubectl"
if command -v kubectl >/dev/null 2>&1; then
    API_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    ./target/release/podnet apiserver --data-dir "$WORK/apiserver" --listen "127.0.0.1:$API_PORT" \
        >"$WORK/apiserver.log" 2>&1 &
    API_PID=$!
    export KUBECONFIG="$WORK/apiserver/kubeconfig"
    for _ in $(seq 100); do kubectl get --raw /readyz >/dev/null 2>&1 && break; sleep 0.1; done
    kubectl apply -f - <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: busybox, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
YAML
    kubectl get namespaces
    kubectl get deployments,services -o wide
    echo "(pods appear once the controllers and node agents of podnet up run them)"
else
    echo "kubectl is not installed: skipping the API part"
fi
