package io.qingtian.lab;

/**
 * The {@code /init} of L1 and the {@code qt} launcher inside it.
 *
 * <p>Channels (all 8250 UARTs, which the Debian kernel has built in; each is a unix socket on
 * the host): ttyS0 = kernel console (kept as the console log), ttyS1 = the command's stdout,
 * ttyS2 = its stderr, ttyS3 = control lines {@code qt-lab: ready}, {@code qt-lab: exit N},
 * {@code qt-lab: error ...}, {@code qt-lab: jvm-crash FILE SIGNAL: FRAME}, {@code qt-lab: l2-triple-fault FILE}. The data ports are set raw so bytes pass unchanged (no CR/LF
 * translation). Results come back over these ports: a command that wants to return a file
 * prints it (e.g. {@code base64 FILE}) or writes it to an extra writable disk
 * ({@link LabRequest#withDisk}); init runs {@code sync} before it reports the exit status.
 */
final class L1Init {
    private L1Init() {}

    /** JVM flags of {@code qt} in L1 (the AOT cache is trained with exactly these). */
    static final java.util.List<String> JAVA_FLAGS = java.util.List.of(
            "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData");

    /**
     * The {@code qt} launcher: the project's jars on the lab's jlink JDK 25, with the AOT cache
     * {@code /opt/qt/qt.aot} when there is one ({@link AotCache}). The class path is spelled out
     * in a fixed order (a {@code lib/*} wildcard expands in directory order, which differs between
     * file systems and would make the AOT cache mismatch).
     */
    static String qtLauncher(java.util.List<String> classPath) {
        return """
                #!/bin/sh
                aot=
                [ -s /opt/qt/qt.aot ] && aot="-XX:AOTCache=/opt/qt/qt.aot -Xlog:aot=off -Xlog:cds=off"
                exec /opt/lab/jdk/bin/java %s $aot $QT_JAVA_OPTS \\
                  -cp %s io.qingtian.cli.Qt "$@"
                """.formatted(String.join(" ", JAVA_FLAGS), String.join(":", classPath));
    }

    static String script(String kernelVersion) {
        return """
                #!/bin/sh
                export PATH=/opt/qt/bin:/opt/lab/jdk/bin:/bin:/sbin:/usr/bin:/usr/sbin
                mount -t proc proc /proc
                mount -t sysfs sysfs /sys
                mount -t devtmpfs devtmpfs /dev
                chmod 1777 /tmp  # rootfs is tmpfs already; a tmpfs on /tmp would hide --file content there
                for t in 1 2 3; do stty -F /dev/ttyS$t raw -echo; done
                exec 3>/dev/ttyS3
                for m in $(cat /etc/qt-boot-modules); do insmod "$m" || echo "qt-lab: error insmod $m failed" >&3; done
                i=0
                while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
                mount -t ext4 -o ro /dev/vda /opt/lab || echo "qt-lab: error cannot mount the lab disk /dev/vda" >&3
                export HOME=/root JAVA_HOME=/opt/lab/jdk
                export QT_GUEST_KERNEL=/opt/lab/guest/vmlinuz QT_GUEST_INITRAMFS=/opt/lab/guest/initramfs.cpio
                export QT_GUEST_MODULES=/opt/lab/modules/%s
                echo "qt-lab: ready" >&3
                %s
                cd /tmp
                # A JVM that dies of a fatal error leaves hs_err_pidN.log in its working directory
                # (or /tmp): report each one as it appears, with its signal and frame, so the host
                # knows at once (a dead back-end otherwise shows only as a guest waiting for ever).
                # Likewise an L2 guest's triple fault logged by qt hypervisor run.
                ( seen=" "; while sleep 3; do
                    for f in $(find / -xdev -maxdepth 4 -name 'hs_err_pid*.log' 2>/dev/null); do
                        case "$seen" in *" $f "*) continue;; esac
                        seen="$seen$f "; sleep 1
                        sig=$(grep -m1 -o 'SIG[A-Z]* (0x[0-9a-f]*)' "$f")
                        frame=$(grep -m1 -A1 '^# Problematic frame' "$f" | tail -1 | cut -c3-162)
                        echo "qt-lab: jvm-crash $f ${sig:-unknown signal}: $frame" >&3
                    done
                    # An L2 triple fault, as our hypervisor reports it, in the logs tests keep in /tmp.
                    for f in $(grep -l -s 'guest triple fault (KVM_EXIT_SHUTDOWN)' /tmp/*.log /tmp/*.err /tmp/*.out /tmp/*/*.log); do
                        case "$seen" in *" $f "*) continue;; esac
                        seen="$seen$f "
                        echo "qt-lab: l2-triple-fault $f" >&3
                    done; done ) </dev/null >/dev/null 2>&1 &
                crashwatch=$!
                # Close to the run's timeout, L1's state goes to the command's stderr: a command
                # that hangs says where (processes, their threads' kernel waits, Java thread
                # dumps, the guests' logs, KVM's counters, the kernel log) before the host stops L1.
                ( at=$(cat /qt-lab/diag-at 2>/dev/null || echo 0); [ "$at" -gt 0 ] || exit 0
                  while [ "$(cut -d. -f1 /proc/uptime)" -lt "$at" ]; do sleep 2; done
                  diag ) </dev/null >/dev/ttyS2 2>&1 &
                diagwatch=$!
                sh /qt-lab/command </dev/null >/dev/ttyS1 2>/dev/ttyS2
                status=$?
                kill $crashwatch $diagwatch 2>/dev/null
                sync
                echo "qt-lab: exit $status" >&3
                exec 3>&-
                poweroff -f
                """.formatted(kernelVersion, DIAG.strip().replace("\n", "\n                "));
    }

    /**
     * The {@code diag} shell function: what L1 looks like while a command hangs, each line
     * prefixed {@code qt-lab diag:}. Busybox has no pgrep or ps -L, so processes and threads
     * come from /proc; {@code kill -3} makes each JVM print its thread dump into its own output
     * (a guest's log under /tmp), from which the threads that matter are picked.
     */
    static final String DIAG = """
            diag() { P="qt-lab diag:"
                echo "$P the command still runs $(cut -d' ' -f1 /proc/uptime) s after L1 started, near the run's timeout; L1's state:"
                echo "$P load $(cat /proc/loadavg)"
                for p in /proc/[0-9]*; do
                    a=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null | cut -c1-200); [ -n "$a" ] || continue
                    echo "$P pid ${p#/proc/} $(cut -d' ' -f3 $p/stat) $a"
                    [ "$(cat $p/comm 2>/dev/null)" = java ] || continue
                    for t in $p/task/*; do echo "$P   tid ${t##*/} $(cat $t/comm) $(cut -d')' -f2 $t/stat | cut -d' ' -f2) wchan=$(cat $t/wchan 2>/dev/null)"; done
                done
                mount -t debugfs none /sys/kernel/debug 2>/dev/null
                for k in 1 2; do
                    echo "$P kvm $(for s in exits halt_exits irq_injections io_exits mmio_exits; do printf '%s=%s ' $s "$(cat /sys/kernel/debug/kvm/$s 2>/dev/null)"; done)"
                    sleep 3
                done
                for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = java ] && kill -3 ${p#/proc/}; done
                sleep 5
                for f in /tmp/*.log; do [ -f "$f" ] || continue
                    echo "$P --- $f"
                    awk '/^Full thread dump/ { exit } { print }' "$f" | tail -25 | sed "s|^|$P   |"
                    awk '/^Full thread dump/ { d = 1 } d && /^"/ { show = ($0 ~ /"(main|vcpu|vhost|virtio|ring|queue|worker|card|disk|net)/); n = 0 }
                         d && show && n++ < 12 { print }' "$f" | head -120 | sed "s|^|$P   |"
                done
                dmesg | tail -25 | sed "s|^|$P dmesg |"
                echo "$P end"; }
            """;
}
