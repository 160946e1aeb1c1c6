#!/usr/bin/env bash
# Port-I/O exit round trips on this host's /dev/kvm: the hypervisor's vCPU loop (ExitBench.java)
# vs the minimal C loop ../shared/bench-peers/kexit.c, same guest bytes, same N, in one run.
# Usage: bench/hypervisor/run.sh [N] [REPS]
# ExitBench runs one kexit repetition and one of its own back to back, in alternating order
# (after a JIT warm-up), so both see the same machine load; the ratios use the per-exit times:
#   RATIO = C per-exit / Java per-exit  (>= 0.9 is the goal: ours at least 90% of C's exit rate).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
n="${1:-100000}"; reps="${2:-9}"
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
# The most load-robust figure: each repetition's C and Java runs are back to back, so their
# ratio sees (nearly) the same load; the median of those per-repetition ratios.
echo "$out" | grep -v warmup | awk '/^(KEXIT|JEXIT)/ { match($0, /rep=[0-9]+/); r = substr($0, RSTART + 4, RLENGTH - 4);
    match($0, /per_exit_us=[0-9.]+/); v = substr($0, RSTART + 12, RLENGTH - 12); if ($1 == "KEXIT") c[r] = v; else j[r] = v }
  END { for (r in c) if (r in j) printf "%.4f\n", c[r] / j[r] }' | sort -g \
  | awk '{x[NR] = $1} END { printf "RATIO_PAIRED median of %d per-repetition c/java ratios = %.3f (min %.3f, max %.3f)\n", NR, x[int((NR + 1) / 2)], x[1], x[NR] }'
# On a busy machine the medians wander with the load; the best repetition of each is the least disturbed.
best() { grep -v warmup | grep -o 'per_exit_us=[0-9.]*' | cut -d= -f2 | sort -g | head -1; }
cb=$(echo "$out" | grep KEXIT | best); jb=$(echo "$out" | grep JEXIT | best)
awk -v c="$cb" -v j="$jb" 'BEGIN { printf "RATIO_BEST c_per_exit/java_per_exit = %.3f (best C %.3f us, Java %.3f us per exit)\n", c/j, c, j }'
