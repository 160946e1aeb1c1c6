package io.qingtian.hypervisor.vcpu;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.kvm.KvmExit;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class ExitRingTest {
    @Test
    void emptyRingHasNoEntries() {
        ExitRing r = new ExitRing(4);
        assertThat(r.entries()).isEmpty();
        assertThat(r.recorded()).isZero();
        r.setLastValue(7); // nothing to correct: ignored
        assertThat(r.entries()).isEmpty();
    }

    @Test
    void keepsTheNewestEntriesOldestFirstWhenItWraps() {
        ExitRing r = new ExitRing(3);
        for (int i = 1; i <= 5; i++) {
            r.record(KvmExit.IO, true, 0x3f8, 1, 1, 'a' + i, 0x1000 + i);
        }
        List<ExitRing.Entry> e = r.entries();
        assertThat(e).extracting(ExitRing.Entry::seq).containsExactly(3L, 4L, 5L);
        assertThat(e).extracting(ExitRing.Entry::value).containsExactly((long) 'd', (long) 'e', (long) 'f');
        assertThat(e).extracting(ExitRing.Entry::rip).containsExactly(0x1003L, 0x1004L, 0x1005L);
        assertThat(r.recorded()).isEqualTo(5);
    }

    @Test
    void setLastValueCorrectsOnlyTheNewestEntryAlsoAcrossTheWrap() {
        ExitRing r = new ExitRing(2);
        r.record(KvmExit.IO, false, 0x3fd, 1, 1, 0, 1);
        r.record(KvmExit.IO, false, 0x3fd, 1, 1, 0, 2); // fills slot 1; the next slot is 0
        r.setLastValue(0x60);
        assertThat(r.entries()).extracting(ExitRing.Entry::value).containsExactly(0L, 0x60L);
    }

    @Test
    void describesEachKindOfExitOnOneLine() {
        ExitRing r = new ExitRing(8);
        r.record(KvmExit.IO, true, 0x3f8, 1, 1, 0x41, 0xffffffff81000010L);
        r.record(KvmExit.IO, false, 0x3fd, 1, 1, 0x60, ExitRing.NO_RIP);
        r.record(KvmExit.IO, true, 0x3f8, 1, 12, 0x48, 5);
        r.record(KvmExit.MMIO, true, 0xd000_0010L, 4, 1, 0x5a, 6);
        r.record(ExitRing.EINTR, 7);
        r.record(KvmExit.SHUTDOWN, 8);
        assertThat(r.entries()).extracting(ExitRing.Entry::describe).containsExactly(
                "#1 IO out 0x3f8 size 1 = 0x41 rip ffffffff81000010",
                "#2 IO in 0x3fd size 1 -> 0x60",
                "#3 IO out 0x3f8 size 1 count 12 = 0x48 rip 5",
                "#4 MMIO write 0xd0000010 len 4 = 0x5a rip 6",
                "#5 EINTR (KVM_RUN interrupted by a signal) rip 7",
                "#6 SHUTDOWN rip 8");
    }

    @Test
    void refusesAnEmptyRing() {
        assertThatThrownBy(() -> new ExitRing(0)).isInstanceOf(IllegalArgumentException.class);
    }

    /** Against a plain list: the ring always holds the last min(n, capacity) records in order. */
    @Property(tries = 200)
    void matchesTheTailOfEverythingRecorded(@ForAll @IntRange(min = 1, max = 40) int capacity,
                                            @ForAll @IntRange(min = 0, max = 200) int n) {
        ExitRing r = new ExitRing(capacity);
        for (int i = 0; i < n; i++) {
            r.record(KvmExit.MMIO, i % 2 == 0, i, 1 + i % 8, 1, 3L * i, 10L * i);
        }
        List<ExitRing.Entry> e = r.entries();
        assertThat(e).hasSize(Math.min(n, capacity));
        for (int k = 0; k < e.size(); k++) {
            int i = n - e.size() + k;
            assertThat(e.get(k)).isEqualTo(new ExitRing.Entry(i + 1, KvmExit.MMIO, i % 2 == 0, i, 1 + i % 8, 1, 3L * i, 10L * i));
        }
    }
}
