package io.qingtian.e2e.pci;

import static io.qingtian.e2e.Outputs.find;
import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import io.qingtian.lab.LabResult;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The card dies under a running guest and comes back; the guest gets its disk back without a
 * reboot. In the lab, one guest boot:
 * <ol>
 *   <li>the guest writes 4 MiB to a card volume, syncs, prints the checksum and the disk's
 *       PCI address, then waits on its console;
 *   <li>L1 kills the card with SIGKILL (no clean shutdown) and starts it again on the same
 *       state directory (it re-exports the volume on the same socket); our hypervisor's
 *       vhost-user front-end reconnects by itself;
 *   <li>Linux 6.1 ignores DEVICE_NEEDS_RESET, so the guest re-probes the device the standard
 *       way: {@code echo 1 > /sys/bus/pci/devices/BDF/remove; echo 1 > /sys/bus/pci/rescan};
 *   <li>the new disk reads back the checksum, accepts a write; the volume file in L1 has
 *       what the guest wrote last;
 *   <li>the card is killed again and this time the guest re-probes while it is still down:
 *       the device starts when the card is back (the probe's reads wait), the data reads back,
 *       and the VM powers off normally.
 * </ol>
 * And, in a second guest, what inflight tracking buys: the card is killed in the middle of the
 * guest's direct I/O and restarted; the guest does nothing at all, its I/O pauses and carries
 * on with every block verified, and no error reaches its kernel.
 */
@Tag("lab")
class CardRestartLabTest {
    @TempDir
    Path tmp;

    // The waits below end as soon as their condition holds; their limits are sized for a loaded
    // CI machine (the lab's TCG shares 2 cores with the rest of the suite), not for speed.
    static final String INIT = CardLab.L2_PRELUDE + """
            sum() { dd if=/dev/$1 bs=1M count=4 2>/dev/null | md5sum | cut -d' ' -f1; }
            disk() { for d in /sys/block/vd*; do [ -e "$d" ] && echo "${d##*/}" && return; done; }
            D=$(disk)
            if [ -z "$D" ]; then echo "L2 no disk"; dmesg | tail -20; poweroff -f; fi
            dd if=/dev/urandom of=/dev/$D bs=1M count=4 2>/dev/null
            sync
            echo "L2 sum-before $(sum $D)"
            BDF=$(basename $(dirname $(readlink -f /sys/block/$D/device)))
            echo "L2 ready $BDF"
            read -r GO
            echo "L2 got $GO; re-probing $BDF"
            echo 1 > /sys/bus/pci/devices/$BDF/remove
            echo 1 > /sys/bus/pci/rescan
            for i in $(seq 1 600); do D=$(disk); [ -n "$D" ] && [ -b /dev/$D ] && break; sleep 0.2; done
            echo "L2 back $D $(cat /sys/block/$D/size 2>/dev/null)"
            echo "L2 sum-after $(sum $D)"
            if dd if=/dev/urandom of=/dev/$D bs=64k count=16 conv=fsync 2>/dev/null; then echo "L2 write ok"; else echo "L2 write failed"; fi
            sync
            echo "L2 sum-final $(sum $D)"
            BDF=$(basename $(dirname $(readlink -f /sys/block/$D/device)))
            echo "L2 ready2 $BDF"
            read -r GO
            # Second time the card is still down while the guest re-probes: the probe's first
            # read waits until the card is back.
            echo 1 > /sys/bus/pci/devices/$BDF/remove
            echo 1 > /sys/bus/pci/rescan
            for i in $(seq 1 900); do D=$(disk); [ -n "$D" ] && [ -b /dev/$D ] && break; sleep 0.2; done
            echo "L2 sum-after2 $(sum $D)"
            echo "L2 end"
            poweroff -f
            """;

    static final String SCRIPT = """
            card_up || exit 1
            card volume create data --size 32M
            card volume export data --vhost-user /tmp/card.sock
            waitsock /tmp/card.sock || exit 1
            mkfifo /tmp/console-in
            echo "L1 boot restart"
            qt hypervisor run --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio --memory 256M --timeout 300 \\
                --disk socket=/tmp/card.sock --cmdline "$CMD" < /tmp/console-in > /tmp/restart.log 2>&1 & H=$!
            exec 3> /tmp/console-in
            for i in $(seq 1 1200); do grep -q '^L2 ready' /tmp/restart.log && break; kill -0 $H 2>/dev/null || break; sleep 0.2; done
            grep -q '^L2 ready' /tmp/restart.log || { echo "L1 guest not ready"; tail -40 /tmp/restart.log; exit 1; }
            kill -KILL $CARD; wait $CARD 2>/dev/null
            echo "L1 card killed"
            sleep 1
            kill -0 $H && echo "L1 vm alive without the card"
            card_up || exit 1
            waitsock /tmp/card.sock
            for i in $(seq 1 600); do grep -q 'reconnected to the back-end' /tmp/restart.log && break; sleep 0.2; done
            grep -q 'reconnected to the back-end' /tmp/restart.log && echo "L1 hypervisor reconnected"
            echo go >&3
            # 2. killed again; this time the guest re-probes before the card is back
            for i in $(seq 1 1200); do grep -q '^L2 ready2' /tmp/restart.log && break; kill -0 $H 2>/dev/null || break; sleep 0.2; done
            grep -q '^L2 ready2' /tmp/restart.log || { echo "L1 guest not ready again"; tail -40 /tmp/restart.log; exit 1; }
            kill -KILL $CARD; wait $CARD 2>/dev/null
            echo "L1 card killed again"
            for i in $(seq 1 600); do [ $(grep -c 'the back-end disconnected' /tmp/restart.log) -ge 2 ] && break; sleep 0.2; done
            echo go2 >&3
            for i in $(seq 1 600); do grep -q 'the device starts when it returns' /tmp/restart.log && break; sleep 0.2; done
            grep -q 'the device starts when it returns' /tmp/restart.log && echo "L1 probed while the card was down"
            card_up || exit 1
            wait $H; echo "L1 hv-exit restart $?"
            exec 3>&-
            hvlines restart
            kill $CARD; wait $CARD
            filesum card /tmp/card/volumes/data.img
            echo "L1 done"
            """;

    /** Direct writes and read-backs of 64 KiB blocks, 300 times, with no help for a restart. */
    static final String IO_INIT = CardLab.L2_PRELUDE + """
            D=vda
            for i in $(seq 1 100); do [ -b /dev/$D ] && break; sleep 0.1; done
            dd if=/dev/urandom of=/tmp/p bs=64k count=1 2>/dev/null
            W=$(md5sum < /tmp/p | cut -d' ' -f1)
            echo "L2 io-started $W"
            bad=0
            for n in $(seq 1 300); do
                dd if=/tmp/p of=/dev/$D bs=64k seek=$((64 + n)) oflag=direct conv=fsync 2>/dev/null || { echo "L2 io $n write failed"; bad=$((bad+1)); }
                R=$(dd if=/dev/$D bs=64k skip=$((64 + n)) count=1 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)
                [ "$R" = "$W" ] || { echo "L2 io $n read back wrong"; bad=$((bad+1)); }
            done
            echo "L2 io done bad=$bad"
            dmesg | grep -i -E 'error|not a head|virtio' | sed 's/^/L2 dmesg /'
            echo "L2 end"
            poweroff -f
            """;

    static final String IO_SCRIPT = """
            card_up || exit 1
            card volume create data --size 32M
            card volume export data --vhost-user /tmp/card.sock
            waitsock /tmp/card.sock || exit 1
            echo "L1 boot io"
            qt hypervisor run --kernel "$QT_GUEST_KERNEL" --initramfs /tmp/l2.cpio --memory 256M --timeout 300 \\
                --disk socket=/tmp/card.sock --cmdline "$CMD" > /tmp/io.log 2>&1 & H=$!
            for i in $(seq 1 1200); do grep -q '^L2 io-started' /tmp/io.log && break; kill -0 $H 2>/dev/null || break; sleep 0.2; done
            grep -q '^L2 io-started' /tmp/io.log || { echo "L1 guest did not start its I/O"; tail -40 /tmp/io.log; exit 1; }
            sleep 1
            kill -KILL $CARD; wait $CARD 2>/dev/null
            echo "L1 card killed under I/O"
            grep -q '^L2 io done' /tmp/io.log && echo "L1 too late: the guest's I/O had ended"
            sleep 1
            card_up || exit 1
            wait $H; echo "L1 hv-exit io $?"
            hvlines io
            grep -E 'rings resumed|needs a reset|disconnected|reconnected' /tmp/io.log | sed 's/^/L1 hv-log /'
            kill $CARD; wait $CARD
            echo "L1 filesum block $(dd if=/tmp/card/volumes/data.img bs=64k skip=65 count=1 2>/dev/null | md5sum | cut -d' ' -f1)"
            echo "L1 done"
            """;

    @Test
    void guestIoCarriesOnWithoutHelpWhenTheCardIsKilledUnderIt() throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path initrd = tmp.resolve("l2.cpio");
        GuestInitramfs.withInit(IO_INIT).modules(kernel, "virtio_pci", "virtio_blk").writeTo(initrd);
        LabResult r = CardLab.run(tmp, initrd, IO_SCRIPT, Duration.ofMinutes(10));
        String out = r.stdout();
        assertThat(out).contains("L1 card killed under I/O").doesNotContain("L1 too late");
        assertThat(out).as("the VM lived through it and powered off normally")
                .contains("L1 hv-exit io 0", "L2 io end", "L1 done");
        assertThat(out).as("every block written and read back while the card died and returned")
                .contains("L2 io io done bad=0").doesNotContain("write failed", "read back wrong");
        assertThat(out).as("the guest's kernel saw no error").doesNotContainPattern("L2 io dmesg .*(?i)(error|not a head)");
        assertThat(out).as("the hypervisor resumed the rings instead of asking for a reset")
                .contains("rings resumed on the new back-end").doesNotContain("needs a reset");
        String written = find(out, "L2 io io-started (\\w+)");
        assertThat(written).isNotEqualTo("fcd6bcb56c1689fcef28b57c22475bad"); // 64 KiB of zeros
        assertThat(find(out, "L1 filesum block (\\w+)")).as("the guest's block is in the volume's file").isEqualTo(written);
    }

    @Test
    void guestReprobesTheDiskAfterTheCardWasKilledAndRestarted() throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        Path initrd = tmp.resolve("l2.cpio");
        GuestInitramfs.withInit(INIT).modules(kernel, "virtio_pci", "virtio_blk").writeTo(initrd);
        LabResult r = CardLab.run(tmp, initrd, SCRIPT, Duration.ofMinutes(12));
        String out = r.stdout();
        assertThat(out).contains("L1 card killed", "L1 vm alive without the card", "L1 hypervisor reconnected");
        assertThat(out).as("the VM lived through it and powered off normally")
                .contains("L1 hv-exit restart 0", "L2 restart end", "L1 done");

        String before = find(out, "L2 restart sum-before (\\w+)");
        assertThat(before).isNotEqualTo("b5cfa9d6c8febd618f91ac2843d50a1c"); // 4 MiB of zeros
        assertThat(out).containsPattern("L2 restart back vd\\w 65536");
        assertThat(find(out, "L2 restart sum-after (\\w+)")).as("read back after the re-probe").isEqualTo(before);
        assertThat(out).contains("L2 restart write ok");
        String last = find(out, "L2 restart sum-final (\\w+)");
        assertThat(last).isNotEqualTo(before);
        assertThat(find(out, "L1 filesum card (\\w+)")).isEqualTo(last);

        // 2. re-probed while the card was down: the device started when the card came back
        assertThat(out).contains("L1 card killed again", "L1 probed while the card was down");
        assertThat(find(out, "L2 restart sum-after2 (\\w+)")).isEqualTo(last);
    }
}
