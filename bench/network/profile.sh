#!/usr/bin/env bash
# bench/network/profile.sh: where the switch's transmit worker spends its time per frame.
# Runs DataPathMicro (our front-end → switch → our front-end, one JVM) with a JFR recording that
# samples every millisecond, then FrameProfile sorts the worker's samples into the stages of the
# frame path (descriptor walk, header parse, lookup, conntrack, copy, used ring, notification...)
# and converts them to ns per frame with the CPU time per frame of the same run.
# Usage: bench/network/profile.sh [SIZE...]   (default 64 1500); DURATION=N seconds (default 8);
# SWITCH_ROOT=<checkout> profiles another version's built jars (cli/target/qt).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
java="${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java"
jars="${SWITCH_ROOT:-$root}"
[ -f "$jars/cli/target/qt/qingtian-cli.jar" ] || "$root/qt" --version >/dev/null
cp="$(ls "$jars"/cli/target/qt/lib/*.jar "$jars"/cli/target/qt/qingtian-cli.jar | tr '\n' ':')"
tmp="$(mktemp -d /tmp/qt-netprof.XXXX)"
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/sampling.jfc" <<'JFC'
<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0">
  <event name="jdk.ExecutionSample"><setting name="enabled">true</setting><setting name="period">1 ms</setting></event>
</configuration>
JFC
for size in ${@:-64 1500}; do
  out="$(timeout 120 "$java" -XX:StartFlightRecording=filename="$tmp/$size.jfr",settings="$tmp/sampling.jfc" \
      --enable-native-access=ALL-UNNAMED -cp "$cp" "$root/bench/network/DataPathMicro.java" "$size" "${DURATION:-8}" 2>&1 \
      | grep '^datapath')"
  echo "$out"
  ns="$(echo "$out" | grep -o 'worker_cpu_ns_per_frame=[0-9.]*' | cut -d= -f2)"
  "$java" "$root/bench/network/FrameProfile.java" "$tmp/$size.jfr" vhost-user-net:a-q1 "${ns:-0}"
done
