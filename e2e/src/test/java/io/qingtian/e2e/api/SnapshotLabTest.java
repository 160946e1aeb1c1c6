package io.qingtian.e2e.api;

import static io.qingtian.e2e.Outputs.find;
import static io.qingtian.e2e.Outputs.section;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
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
 * (no reboot), and a file it wrote to tmpfs before the snapshot is still there. With a
 * card-served vhost-user-blk disk: data written before the snapshot reads back from the disk
 * (page cache dropped) after a restore into a new process, and new writes reach the card.
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
        String after = resumedConsole(before, section(out, "=== after\n", "=== after-err"));
        int last = lastCount(before);
        assertThat(last).as("counted before the snapshot:%n%s", before).isGreaterThanOrEqualTo(5);
        assertThat(after).as("restored guest continues at %d, no reboot", last + 1)
                .contains("count " + (last + 1) + " written-before-snapshot")
                .contains("count " + (last + 3) + " written-before-snapshot")
                .doesNotContain("count 1 ");
        assertThat(out).contains("\"state\":\"Running\"");
        assertThat(section(out, "=== after-err", "=== end")).contains("snapshot loaded in");
    }

    /** L2: writes 4 MiB to the card's disk, then counts; "verify" on the console re-reads it from the disk and writes more. */
    static final String DISK_INIT = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev
            %s
            sum() { dd if=/dev/vda bs=1M skip=$1 count=4 2>/dev/null | md5sum | cut -d' ' -f1; }
            dd if=/dev/urandom of=/dev/vda bs=1M count=4 2>/dev/null
            sync
            echo "L2 written $(sum 0)"
            i=0
            while true; do
                i=$((i+1)); echo "count $i"
                if read -t 1 cmd; then
                    case "$cmd" in
                    verify)
                        echo 3 > /proc/sys/vm/drop_caches
                        echo "L2 readback $(sum 0)"
                        dd if=/dev/urandom of=/dev/vda bs=1M seek=8 count=4 2>/dev/null
                        sync
                        echo 3 > /proc/sys/vm/drop_caches
                        echo "L2 newwrite $(sum 8)";;
                    esac
                fi
            done
            """.formatted(GuestInitramfs.LOAD_MODULES);

    /**
     * L1: the card daemon exports a volume over vhost-user; hypervisor A boots with it, is paused
     * and snapshotted at count 3 and killed (SIGKILL); hypervisor B restores the snapshot
     * (reconnecting to the card), gets "verify" on its console, keeps counting.
     */
    static final String DISK_SCRIPT = """
            set -u
            CMD='console=ttyS0 reboot=k panic=1 quiet i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd'
            waitfor() { n=0; until grep -q "$1" "$2"; do sleep 0.5; n=$((n+1)); [ $n -gt $3 ] && echo "L1 timeout waiting for $1" && return 1; done; }
            qt card run --state /tmp/card > /tmp/card.log 2>&1 & P=$!
            for i in $(seq 1 100); do qt card volume list --state /tmp/card >/dev/null 2>&1 && break; sleep 0.5; done
            qt card volume create data --size 32M --state /tmp/card
            qt card volume export data --vhost-user /tmp/card.sock --state /tmp/card
            for i in $(seq 1 600); do [ -S /tmp/card.sock ] && break; sleep 0.1; done
            qt hypervisor run --api-sock /tmp/a.sock --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio \\
                --memory 256M --disk socket=/tmp/card.sock --cmdline "$CMD" > /tmp/a.out 2> /tmp/a.err &
            PA=$!
            waitfor '^count 3[^0-9]' /tmp/a.out 400
            qt hypervisor api /tmp/a.sock PATCH /vm '{"state":"Paused"}'
            qt hypervisor api /tmp/a.sock PUT /snapshot/create \\
                '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem"}'
            echo "=== snapshot rc=$?"
            kill -9 $PA; wait $PA
            echo "=== before"; cat /tmp/a.out; echo "=== before-err"; cat /tmp/a.err
            mkfifo /tmp/b.in
            exec 3<>/tmp/b.in
            qt hypervisor run --api-sock /tmp/b.sock < /tmp/b.in > /tmp/b.out 2> /tmp/b.err &
            PB=$!
            n=0; until qt hypervisor api /tmp/b.sock GET / > /dev/null 2>&1; do sleep 0.3; n=$((n+1)); [ $n -gt 100 ] && break; done
            qt hypervisor api /tmp/b.sock PUT /snapshot/load \\
                '{"snapshot_path":"/tmp/s.snap","mem_file_path":"/tmp/s.mem","resume_vm":true}'
            echo "=== load rc=$?"
            LAST=$(grep -c '^count ' /tmp/a.out)
            waitfor "^count $((LAST+2))[^0-9]" /tmp/b.out 120
            echo verify >&3
            waitfor '^L2 newwrite ' /tmp/b.out 240
            N=$(grep -c '^count ' /tmp/b.out)
            waitfor "^count $((LAST+N+2))[^0-9]" /tmp/b.out 120
            kill $PB; wait $PB
            echo "=== after"; cat /tmp/b.out; echo "=== after-err"; cat /tmp/b.err; echo "=== end"
            echo "L1 filesum 0 $(dd if=/tmp/card/volumes/data.img bs=1M skip=0 count=4 2>/dev/null | md5sum | cut -d' ' -f1)"
            echo "L1 filesum 8 $(dd if=/tmp/card/volumes/data.img bs=1M skip=8 count=4 2>/dev/null | md5sum | cut -d' ' -f1)"
            kill $P; wait $P
            echo "L1 done"
            """;

    @Test
    void restoredGuestWithACardDiskReadsItsDataBackAndWritesOn(@TempDir Path tmp) throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path initramfs = tmp.resolve("l2.cpio");
        GuestInitramfs.withInit(DISK_INIT).modules(kernel, "virtio_pci", "virtio_blk").writeTo(initramfs);
        LabResult r = new Lab().run(LabRequest.of("sh", "-c", DISK_SCRIPT).withFile(initramfs, "/tmp/l2.cpio")
                .withTimeout(Duration.ofMinutes(12)));
        String out = r.stdout();
        System.out.println(out);
        System.out.println(r.stderr());
        assertThat(r.timedOut()).as(r.stderr()).isFalse();
        assertThat(out).contains("=== snapshot rc=0").contains("=== load rc=0").contains("L1 done");
        String before = section(out, "=== before\n", "=== before-err");
        String after = resumedConsole(before, section(out, "=== after\n", "=== after-err"));
        String written = find(before, "L2 written (\\w+)");
        assertThat(written).as("4 MiB of random data, not zeros").isNotEqualTo("b5cfa9d6c8febd618f91ac2843d50a1c");
        int last = lastCount(before);
        assertThat(after).as("restored guest continues at %d, no reboot", last + 1)
                .containsPattern("(?m)^count " + (last + 1) + "\\r?$").doesNotContainPattern("(?m)^count 1\\r?$")
                .doesNotContain("L2 written");
        assertThat(find(after, "L2 readback (\\w+)")).as("data written before the snapshot, read from the disk").isEqualTo(written);
        String fresh = find(after, "L2 newwrite (\\w+)");
        assertThat(fresh).isNotEqualTo(written).isNotEqualTo("b5cfa9d6c8febd618f91ac2843d50a1c");
        assertThat(lastCount(after)).as("counting goes on after the new write").isGreaterThan(last + 3);
        assertThat(find(out, "L1 filesum 0 (\\w+)")).as("the card's volume file").isEqualTo(written);
        assertThat(find(out, "L1 filesum 8 (\\w+)")).as("write after restore reached the card").isEqualTo(fresh);
        assertThat(section(out, "=== after-err", "=== end")).contains("snapshot loaded in");
    }

    /**
     * The restored VM's console as the guest wrote it: the pause can land in the middle of a
     * line (a CI run paused after the guest had sent the "c" of "count 15" to the first
     * hypervisor's console), so the first VM's unfinished last line is put in front.
     */
    static String resumedConsole(String before, String after) {
        return before.substring(before.lastIndexOf('\n') + 1) + after;
    }

    private static int lastCount(String console) {
        Matcher m = Pattern.compile("(?m)^count (\\d+)\\b").matcher(console);
        int last = 0;
        while (m.find()) {
            last = Integer.parseInt(m.group(1));
        }
        return last;
    }
}
