#!/usr/bin/env bash
# Port-I/O exit round trips on this host's /dev/kvm: the hypervisor's vCPU loop (ExitBench.java)
# vs the minimal C loop ../shared/bench-peers/kexit.c, same guest bytes, same N, in one run.
# Usage: bench/hypervisor/run.sh [N] [REPS]
# ExitBench alternates one kexit repetition and one of its own (after a JIT warm-up), so both
# see the same machine load; the ratio uses the median per-exit time of each:
#   RATIO = C per-exit / Java per-exit  (>= 0.9 is the goal: ours at least 90% of C's exit rate).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
n="${1:-100000}"; reps="${2:-5}"
: "${JAVA_HOME:=/usr/lib/jvm/temurin-25-jdk-amd64}"
peer="${KEXIT_SRC:-$root/../shared/bench-peers/kexit.c}"
[ -f "$peer" ] || peer=/work/shared/bench-peers/kexit.c
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/kexit" "$peer"
(cd "$root" && ./qt --version >/dev/null)   # builds cli/target/qt if stale
dist="$root/cli/target/qt"
out="$("$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -XX:+UseSerialGC \
  -cp "$dist/qingtian-cli.jar:$dist/lib/*" "$root/bench/hypervisor/ExitBench.java" "$n" "$reps" "$tmp/kexit")"
echo "$out"
median() { grep -v warmup | grep -o 'per_exit_us=[0-9.]*' | cut -d= -f2 | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
c=$(echo "$out" | grep KEXIT | median); j=$(echo "$out" | grep JEXIT | median)
awk -v c="$c" -v j="$j" 'BEGIN { printf "RATIO c_per_exit/java_per_exit = %.3f (median C %.3f us, Java %.3f us per exit)\n", c/j, c, j }'
# On a busy machine the medians wander with the load; the best repetition of each is the least disturbed.
best() { grep -v warmup | grep -o 'per_exit_us=[0-9.]*' | cut -d= -f2 | sort -g | head -1; }
cb=$(echo "$out" | grep KEXIT | best); jb=$(echo "$out" | grep JEXIT | best)
awk -v c="$cb" -v j="$jb" 'BEGIN { printf "RATIO_BEST c_per_exit/java_per_exit = %.3f (best C %.3f us, Java %.3f us per exit)\n", c/j, c, j }'
