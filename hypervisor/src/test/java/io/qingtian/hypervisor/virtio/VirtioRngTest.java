package io.qingtian.hypervisor.virtio;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.virtio.memory.GuestMemory;
import io.qingtian.virtio.memory.GuestRegion;
import io.qingtian.virtio.queue.DriverQueue;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** virtio-rng served in-process, driven by a driver-side queue over real (heap-less) memory. */
class VirtioRngTest {
    final Arena arena = Arena.ofAuto();
    final MemorySegment ram = arena.allocate(1 << 20, 4096);
    final GuestMemory memory = new GuestMemory(List.of(new GuestRegion(0, ram, -1, 0)));
    final List<String> irqs = new ArrayList<>();

    final VirtioDevice.VirtioInterrupt irq = new VirtioDevice.VirtioInterrupt() {
        @Override public void queue(int index) { irqs.add("q" + index); }
        @Override public void configChanged() { irqs.add("config"); }
        @Override public void needsReset() { irqs.add("reset"); }
    };

    @Test
    void fillsWritableBuffersWithEntropyAndInterrupts() throws Exception {
        VirtioRng rng = new VirtioRng(memory);
        DriverQueue q = new DriverQueue(memory, 16, 0x1000, 0x2000, 0x3000, false);
        assertThat(rng.activate(VirtioPciDevice.VIRTIO_F_VERSION_1, List.of(new QueueConfig(0, 16, 0x1000, 0x2000, 0x3000, 1)), irq)).isTrue();
        q.add(new long[] {0x10000}, new int[] {64}, new boolean[] {true}, 1);
        q.add(new long[] {0x20000, 0x30000}, new int[] {100, 28}, new boolean[] {true, true}, 2);
        q.publish();
        rng.queueNotify(0);
        int[] ids = new int[4];
        int[] lens = new int[4];
        assertThat(q.poll(ids, lens)).isEqualTo(2);
        assertThat(lens[0]).isEqualTo(64);
        assertThat(lens[1]).isEqualTo(128);
        assertThat(irqs).containsExactly("q0");
        byte[] a = memory.read(0x10000, 64);
        byte[] b = memory.read(0x20000, 64);
        assertThat(a).isNotEqualTo(new byte[64]).isNotEqualTo(b);
        assertThat(rng.bytesServed()).isEqualTo(192);
    }

    @Test
    void readOnlyBuffersGetNothingAndABrokenRingAsksForReset() throws Exception {
        VirtioRng rng = new VirtioRng(memory);
        DriverQueue q = new DriverQueue(memory, 8, 0x1000, 0x2000, 0x3000, false);
        rng.activate(VirtioPciDevice.VIRTIO_F_VERSION_1, List.of(new QueueConfig(0, 8, 0x1000, 0x2000, 0x3000, 0)), irq);
        q.add(new long[] {0x10000}, new int[] {32}, new boolean[] {false}, 1);
        q.publish();
        rng.queueNotify(0);
        int[] ids = new int[1];
        int[] lens = new int[1];
        assertThat(q.poll(ids, lens)).isEqualTo(1);
        assertThat(lens[0]).isZero();
        // a hostile driver moves avail idx far ahead of the ring
        memory.writeU16(0x2000 + 2, 500);
        rng.queueNotify(0);
        assertThat(irqs).endsWith("reset");
        rng.queueNotify(0); // the queue is gone until reset: ignored
    }

    @Test
    void refusesRingsOutsideMemory() {
        VirtioRng rng = new VirtioRng(memory);
        assertThat(rng.activate(VirtioPciDevice.VIRTIO_F_VERSION_1,
                List.of(new QueueConfig(0, 16, 0xfff_0000L, 0x2000, 0x3000, 0)), irq)).isFalse();
    }
}
