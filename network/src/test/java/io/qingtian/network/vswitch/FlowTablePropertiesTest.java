package io.qingtian.network.vswitch;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** The open-addressing flow table behaves like a map with expiry, including after deletions. */
class FlowTablePropertiesTest {
    @Property(tries = 100)
    void behavesLikeAModel(@ForAll @Size(max = 400) List<@IntRange(min = 0, max = 40) Integer> keys,
                           @ForAll @Size(max = 400) List<@IntRange(min = 1, max = 30) Integer> ttls) {
        FlowTable t = new FlowTable(16);
        Map<Long, Long> model = new HashMap<>();
        long now = 0;
        for (int i = 0; i < keys.size(); i++) {
            now++;
            long k = keys.get(i) * 0x1_0000_0001L;
            long deadline = now + (i < ttls.size() ? ttls.get(i) : 5);
            final long n = now;
            model.entrySet().removeIf(e -> e.getValue() - n <= 0);
            boolean fits = model.containsKey(k) || model.size() < 16;
            assertThat(t.put(k, deadline, now)).isEqualTo(fits);
            if (fits) {
                model.put(k, deadline);
            }
            for (long q = 0; q <= 40; q++) {
                long qk = q * 0x1_0000_0001L;
                assertThat(t.live(qk, now)).as("key %d at %d", q, now).isEqualTo(model.containsKey(qk));
            }
        }
    }

    @Property(tries = 100)
    void removingByRemoteAddressRemovesExactlyThose(
            @ForAll @Size(max = 200) List<@IntRange(min = 0, max = 7) Integer> highs,
            @ForAll @IntRange(min = 0, max = 7) int gone) {
        FlowTable t = new FlowTable(256);
        Map<Long, Long> model = new HashMap<>();
        for (int i = 0; i < highs.size(); i++) {
            long k = ((long) highs.get(i) << 32) | i;
            t.put(k, 1_000, 0);
            model.put(k, 1_000L);
        }
        t.removeHigh(gone);
        model.keySet().removeIf(k -> (k >>> 32) == gone);
        assertThat(t.size()).isEqualTo(model.size());
        for (int i = 0; i < highs.size(); i++) {
            long k = ((long) highs.get(i) << 32) | i;
            assertThat(t.live(k, 1)).isEqualTo(model.containsKey(k));
        }
    }
}
