#!/usr/bin/env bash
# The main job: builds podnet and runs `podnet up --demo`: a 3-node cluster on this
# host (nodes and pods are network namespaces), the examples applied, a table of
# pods and a pod-to-pod matrix of the addresses each server saw. Extra arguments go
# to `podnet up` (e.g. --routing vxlan --masquerade off). `podnet down` removes it all.
# Installs the OS packages it needs when missing. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "up: run as root (it creates network namespaces)" >&2; exit 1; }
./scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
cargo build --release -p podnet -p podnet-cni --quiet
exec ./target/release/podnet up --demo "$@"
