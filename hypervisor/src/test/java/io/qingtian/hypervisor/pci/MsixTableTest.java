package io.qingtian.hypervisor.pci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class MsixTableTest {
    private final List<String> delivered = new ArrayList<>();
    private final MsixTable table = new MsixTable(3, (v, m) -> delivered.add(v + "@" + Long.toHexString(m.address()) + "=" + m.data()));

    private void program(int vector, long address, int data, boolean masked) {
        table.writeTable(vector * 16L, 8, address);
        table.writeTable(vector * 16L + 8, 4, data);
        table.writeTable(vector * 16L + 12, 4, masked ? 1 : 0);
    }

    @Test
    void vectorsStartMaskedAndTriggersBecomePending() {
        table.controlWritten(MsixTable.CONTROL_ENABLE);
        assertThat(table.isMasked(1)).isTrue();
        table.trigger(1);
        assertThat(delivered).isEmpty();
        assertThat(table.isPending(1)).isTrue();
        assertThat(table.readPba(0, 8)).isEqualTo(0b10);
        // unmasking delivers the pending message and clears the bit
        program(1, 0xfee0_0000L, 0x41, false);
        assertThat(delivered).containsExactly("1@fee00000=65");
        assertThat(table.isPending(1)).isFalse();
    }

    @Test
    void functionMaskHoldsDeliveriesUntilCleared() {
        program(0, 0xfee0_1000L, 0x30, false);
        table.controlWritten(MsixTable.CONTROL_ENABLE | MsixTable.CONTROL_FUNCTION_MASK);
        table.trigger(0);
        assertThat(delivered).isEmpty();
        table.controlWritten(MsixTable.CONTROL_ENABLE);
        assertThat(delivered).containsExactly("0@fee01000=48");
        table.trigger(0);
        assertThat(delivered).hasSize(2);
    }

    @Test
    void disabledMsixNeverDeliversAndBogusVectorsAreIgnored() {
        program(2, 0xfee0_0000L, 1, false);
        table.trigger(2);
        table.trigger(0xffff);
        table.trigger(-1);
        assertThat(delivered).isEmpty();
        assertThat(table.isPending(2)).isTrue();
    }

    @Test
    void oddWidthTableAccessesAreIgnored() {
        table.writeTable(1, 4, 0x1234);
        table.writeTable(0, 2, 0x1234);
        table.writeTable(48, 4, 0x1234); // past the 3-entry table
        assertThat(table.readTable(0, 4)).isZero();
        assertThat(table.readTable(0, 2)).isZero();
        assertThat(table.readTable(12, 4)).isEqualTo(1); // entry 0 vector control: masked
    }

    @Test
    void maskChangesReachTheListenerAndItsPendingBitsShowInThePba() {
        List<String> routes = new ArrayList<>();
        boolean[] outside = new boolean[3];
        MsixTable t = new MsixTable(3, new MsixTable.Listener() {
            @Override
            public void deliver(int vector, MsiMessage message) {
                delivered.add("v" + vector);
            }

            @Override
            public void routeChanged(int vector, MsiMessage message, boolean usable) {
                routes.add(vector + (usable ? "+" : "-"));
            }

            @Override
            public boolean pending(int vector) {
                return outside[vector];
            }
        });
        t.controlWritten(MsixTable.CONTROL_ENABLE);
        assertThat(routes).containsExactly("0-", "1-", "2-"); // enabled, but every entry masked
        routes.clear();
        t.writeTable(16, 8, 0xfee0_0000L);
        t.writeTable(28, 4, 0); // unmask vector 1
        assertThat(routes).containsExactly("1-", "1+");
        routes.clear();
        t.writeTable(28, 4, 1); // mask it again: the irqfd owner must hold deliveries back
        assertThat(routes).containsExactly("1-");
        // What the listener holds (an eventfd signalled while masked) is a PBA bit, beside the table's own.
        outside[1] = true;
        t.trigger(2);
        assertThat(t.readPba(0, 8)).isEqualTo(0b110);
        assertThat(t.readPba(0, 4)).isEqualTo(0b110);
        assertThat(t.readPba(4, 4)).isZero();
        routes.clear();
        t.controlWritten(MsixTable.CONTROL_ENABLE | MsixTable.CONTROL_FUNCTION_MASK);
        assertThat(routes).containsExactly("0-", "1-", "2-");
        assertThat(delivered).isEmpty();
    }
}
