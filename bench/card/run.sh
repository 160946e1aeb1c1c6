#!/usr/bin/env bash
# bench/card/run.sh: the card's storage backends — plain vs AES-XTS volumes, QoS accuracy, and the
# same volumes through the card's vhost-user-blk export. Builds the project if needed (./qt does).
# Env: SECONDS_PER_ROW (default 3), VOLUME_MB (default 256).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
"$root/qt" --version >/dev/null # builds cli/target/qt when sources changed
dist="$root/cli/target/qt"
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -Xmx1g -cp "$dist/qingtian-cli.jar:$dist/lib/*" \
  "$root/bench/card/BackendBench.java" "$@"
