package io.qingtian.e2e.api;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.Lab;
import io.qingtian.lab.LabRequest;
import io.qingtian.lab.LabResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshot of a running stock-kernel guest, restored in a second hypervisor process, on the
 * real KVM inside the nested lab: the guest's shell loop keeps counting from where it stopped
 * (no reboot), and a file it wrote to tmpfs before the snapshot is still there.
 */
@Tag("lab")
class SnapshotLabTest {
    static final String INIT = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t tmpfs tmpfs /mnt
            echo written-before-snapshot > /mnt/marker
            i=0
            while true; do i=$((i+1)); echo "count $i $(cat /mnt/marker)"; sleep 1; done
            """;
    /** Runs in L1: boot with an API socket, pause + snapshot at count 5, restore in a new process, wait for 3 more. */
    static final String SCRIPT = """
            set -u
            CMD='console=ttyS0 reboot=k panic=1 quiet'
            qt hypervisor run --api-sock /tmp/a.sock --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio \\
                --memory 256M --cmdline "$CMD" > /tmp/a.out 2> /tmp/a.err &
            PA=$!
            n=0; until grep -q '^count 5 ' /tmp/a.out; do sleep 0.5; n=$((n+1)); [ $n -gt 400 ] && break; done
            qt hypervisor api /tmp/a.sock PATCH /vm '{"state":"Paused"}'
            qt hypervisor api /tmp/a.sock PUT /snapshot/create \\
                '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem"}'
            echo "=== snapshot rc=$?"
            kill $PA; wait $PA
            echo "=== before"; cat /tmp/a.out; echo "=== before-err"; cat /tmp/a.err
            qt hypervisor run --api-sock /tmp/b.sock > /tmp/b.out 2> /tmp/b.err &
            PB=$!
            n=0; until qt hypervisor api /tmp/b.sock GET / > /dev/null 2>&1; do sleep 0.3; n=$((n+1)); [ $n -gt 100 ] && break; done
            qt hypervisor api /tmp/b.sock PUT /snapshot/load \\
                '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem","resume_vm":true}'
            echo "=== load rc=$?"
            LAST=$(grep -c '^count ' /tmp/a.out)
            n=0; until grep -q "^count $((LAST+3)) " /tmp/b.out; do sleep 0.5; n=$((n+1)); [ $n -gt 120 ] && break; done
            qt hypervisor api /tmp/b.sock GET /
            kill $PB; wait $PB
            echo "=== after"; cat /tmp/b.out; echo "=== after-err"; cat /tmp/b.err; echo "=== end"
            """;

    @Test
    void restoredStockGuestContinuesCountingAndKeepsItsFiles(@TempDir Path tmp) throws Exception {
        Path initramfs = tmp.resolve("l2.cpio");
        GuestInitramfs.withInit(INIT).writeTo(initramfs);
        LabResult r = new Lab().run(LabRequest.of("sh", "-c", SCRIPT).withFile(initramfs, "/tmp/l2.cpio")
                .withTimeout(Duration.ofMinutes(10)));
        String out = r.stdout();
        System.out.println(out);
        System.out.println(r.stderr());
        assertThat(r.timedOut()).as(r.stderr()).isFalse();
        assertThat(out).contains("=== snapshot rc=0").contains("=== load rc=0");
        String before = section(out, "=== before\n", "=== before-err");
        String after = section(out, "=== after\n", "=== after-err");
        int last = lastCount(before);
        assertThat(last).as("counted before the snapshot:%n%s", before).isGreaterThanOrEqualTo(5);
        assertThat(after).as("restored guest continues at %d, no reboot", last + 1)
                .contains("count " + (last + 1) + " written-before-snapshot")
                .contains("count " + (last + 3) + " written-before-snapshot")
                .doesNotContain("count 1 ");
        assertThat(out).contains("\"state\":\"Running\"");
        assertThat(section(out, "=== after-err", "=== end")).contains("snapshot loaded in");
    }

    private static String section(String out, String from, String to) {
        int a = out.indexOf(from);
        int b = out.indexOf(to, Math.max(a, 0));
        assertThat(a).as("%s in lab output:%n%s", from, out).isNotNegative();
        assertThat(b).as("%s in lab output:%n%s", to, out).isGreaterThan(a);
        return out.substring(a + from.length(), b);
    }

    private static int lastCount(String console) {
        Matcher m = Pattern.compile("(?m)^count (\\d+) ").matcher(console);
        int last = 0;
        while (m.find()) {
            last = Integer.parseInt(m.group(1));
        }
        return last;
    }
}
