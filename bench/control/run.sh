#!/usr/bin/env bash
# bench/control/run.sh: the card's control API — request latency (p50/p99) of a read
# (GET /v1/volumes) and a create (POST /v1/volumes), over TCP loopback with one keep-alive
# client, and instance launch-to-running on this host's /dev/kvm (POST /v1/instances until the
# tiny guest's first console bytes) for a confined hypervisor (uid, cgroup, mount ns, seccomp);
# then the lifecycle routes: pause/resume through the card vs PATCH /vm straight to the
# hypervisor's socket, snapshot of a running 256 MiB instance, restore vs a cold start.
# Needs root (confinement). Env: READS (default 2000), CREATES (default 300), LAUNCHES (default 5),
# CYCLES (pause/resume pairs, default 100), SNAPSHOTS (default 3).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
"$root/qt" --version >/dev/null # builds cli/target/qt when sources changed
dist="$root/cli/target/qt"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$dist/qingtian-cli.jar:$dist/lib/*" \
  "$root/bench/control/ApiBench.java" "$dist" "$@"
