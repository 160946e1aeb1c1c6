package io.qingtian.virtio.queue;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.virtio.queue.SplitQueueTest.Setup;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Kick suppression (virtio 1.2 §2.7.10) as the driver side sees it: while the device has
 * disabled notifications a busy driver publishes burst after burst without being asked to
 * kick; once the device re-enables them the next chain is kicked for, with and without
 * VIRTIO_F_EVENT_IDX.
 */
class SplitQueueNotificationTest {
    private static final long BUF_GPA = 0x100000;

    private static void offer(Setup s, int n) {
        for (int i = 0; i < n; i++) {
            s.driver().add(new long[] {BUF_GPA + 64L * i}, new int[] {64}, new boolean[] {false}, 1);
        }
        s.driver().publish();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aDrainingDeviceIsNotKickedPerBurst(boolean eventIdx) throws Exception {
        Setup s = setup(eventIdx);
        DescriptorChain chain = new DescriptorChain(16);
        offer(s, 1);
        assertThat(s.driver().needsKick()).as("an idle device wants the first kick").isTrue();

        s.device().disableNotification();
        int kicks = 0;
        for (int burst = 0; burst < 20; burst++) {
            while (s.device().pop(chain)) {
                s.device().addUsed(chain.head(), 0);
            }
            s.device().publishUsed();
            s.driver().poll(new int[16], new int[16]);
            offer(s, 4);
            kicks += s.driver().needsKick() ? 1 : 0;
        }
        assertThat(kicks).as("kicks while the device drains").isZero();

        while (s.device().pop(chain)) {
            s.device().addUsed(chain.head(), 0);
        }
        s.device().publishUsed();
        s.driver().poll(new int[16], new int[16]);
        assertThat(s.device().enableNotification()).as("nothing arrived meanwhile").isFalse();
        offer(s, 1);
        assertThat(s.driver().needsKick()).as("the next chain after re-enabling is kicked for").isTrue();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void reEnablingReportsChainsThatArrivedWhileDisabled(boolean eventIdx) throws Exception {
        Setup s = setup(eventIdx);
        s.device().disableNotification();
        offer(s, 2);
        // The device must not sleep now: the driver may not have kicked for these.
        assertThat(s.device().enableNotification()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void disablingTwiceThenEnablingOnceAllowsKicks(boolean eventIdx) throws Exception {
        Setup s = setup(eventIdx);
        s.device().disableNotification();
        s.device().disableNotification();
        assertThat(s.device().enableNotification()).isFalse();
        offer(s, 1);
        assertThat(s.driver().needsKick()).isTrue();
    }

    private static Setup setup(boolean eventIdx) throws Exception {
        return SplitQueueTest.setup(16, eventIdx);
    }
}
