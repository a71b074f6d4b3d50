#!/usr/bin/env bash
# The whole test suite: OS packages if missing, format and lint gates, then every
# unit, kernel (throwaway namespaces) and containerd end-to-end test.
# Run as root on Debian: root tests create and remove their own network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"
if [ "$(id -u)" != 0 ]; then
    echo "note: not root: kernel and containerd tests will report themselves skipped" >&2
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace --no-fail-fast 2>&1 | tee target/test.log
# One closing line for the whole run, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "%d passed, %d failed\n", p, f; exit (f > 0) }' target/test.log
