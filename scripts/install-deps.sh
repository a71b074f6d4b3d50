#!/usr/bin/env bash
# Installs the Debian packages podnet's build, tests and benchmark need, and only the
# missing ones. Silent when everything is present; otherwise says what it installed.
# Needs root (and runs apt-get update) only when something is missing.
# rustup/cargo are not handled here.
set -euo pipefail

packages=(
    nftables iproute2 containerd runc busybox-static containernetworking-plugins
    iptables build-essential curl pkg-config protobuf-compiler etcd-server
)

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "install-deps: no dpkg-query: this script installs with apt on Debian;" \
        "install these yourself: ${packages[*]}" >&2
    exit 1
fi

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$package")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing ${missing[*]}; run this script as root to install them" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: installed ${missing[*]}"
