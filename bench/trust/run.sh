#!/usr/bin/env bash
# Trust benchmarks: secure boot + measurement of a 10 MiB kernel + 10 MiB initramfs, attestation
# document create/verify latency; openssl on the same machine as the peer for SHA-384 and ECDSA P-384.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
"$root/qt" --version >/dev/null   # builds cli/target/qt if stale
cp="$root/cli/target/qt/qingtian-cli.jar:$root/cli/target/qt/lib/*"
echo "== QingTian-J trust"
"$JAVA_HOME/bin/java" -cp "$cp" "$root/bench/trust/TrustBench.java"
echo "== openssl peer"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
head -c $((20 << 20)) /dev/urandom > "$tmp/img"
start=$(date +%s%N); for _ in 1 2 3 4 5; do openssl dgst -sha384 "$tmp/img" >/dev/null; done; end=$(date +%s%N)
echo "openssl dgst -sha384 of 20 MiB: $(( (end - start) / 5 / 1000000 )) ms (mean of 5, incl. process start)"
openssl speed -seconds 2 ecdsap384 2>/dev/null | grep -E "^ *384 bits ecdsa" || true
