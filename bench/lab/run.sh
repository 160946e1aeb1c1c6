#!/usr/bin/env bash
# bench/lab/run.sh: the nested lab's costs, medians of 3 L1 boots.
#  - L1 boot: QEMU start -> L1 init ready (kernel, kvm + virtio modules, lab disk mounted), per `qt lab run`
#  - `java -version` inside L1 (jlink JDK 25 with its default CDS archive), from /proc/uptime deltas
#  - per-exit cost of a port-I/O loop on L1's KVM (kvm-amd): C (shared/bench-peers/kexit.c, built
#    static on the host and copied in) and Java (`qt lab kvm-smoke`, FFM through the native module)
# Usage: bench/lab/run.sh [EXITS]   (env: KEXIT_SRC=path/to/kexit.c, RUNS=3)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
exits="${1:-20000}"
runs="${RUNS:-3}"
src="${KEXIT_SRC:-$root/../shared/bench-peers/kexit.c}"
[ -f "$src" ] || src=/work/shared/bench-peers/kexit.c
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
gcc -static -O2 -o "$tmp/kexit" "$src"

median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "n/a"; else print a[int((NR+1)/2)]}'; }

for i in $(seq "$runs"); do
  "$root/qt" lab run --timeout 600 --file "$tmp/kexit:/tmp/kexit" -- sh -c "
    t0=\$(cut -d' ' -f1 /proc/uptime); java -version 2>/dev/null; t1=\$(cut -d' ' -f1 /proc/uptime)
    echo \"JAVA_VERSION_S \$(echo \"\$t0 \$t1\" | awk '{print \$2-\$1}')\"
    /tmp/kexit $exits 3
    qt lab kvm-smoke --exits $exits --reps 3
  " >"$tmp/out.$i" 2>"$tmp/err.$i" || { cat "$tmp/err.$i" >&2; exit 1; }
  sed -n 's/^lab: l1-boot \([0-9.]*\) s.*/\1/p' "$tmp/err.$i" >>"$tmp/boot"
  sed -n 's/^JAVA_VERSION_S //p' "$tmp/out.$i" >>"$tmp/javav"
  sed -n 's/^KEXIT.*per_exit_us=\([0-9.]*\).*/\1/p' "$tmp/out.$i" | median >>"$tmp/c"
  sed -n 's/^kvm-smoke: HLT.*, \([0-9.]*\) us per exit/\1/p' "$tmp/out.$i" | median >>"$tmp/java"
  echo "run $i: boot $(tail -1 "$tmp/boot") s, java -version $(tail -1 "$tmp/javav") s, C $(tail -1 "$tmp/c") us/exit, Java $(tail -1 "$tmp/java") us/exit" >&2
done
c=$(median <"$tmp/c"); j=$(median <"$tmp/java")
echo "L1 boot (median of $runs):              $(median <"$tmp/boot") s"
echo "java -version in L1 (median of $runs):  $(median <"$tmp/javav") s"
echo "port-I/O exit on L1 KVM, C kexit:      $c us  (median of per-run medians of 3 reps, $exits exits)"
echo "port-I/O exit on L1 KVM, Java:         $j us  (ratio Java/C $(awk -v a="$j" -v b="$c" 'BEGIN{printf "%.2f", a/b}'))"
