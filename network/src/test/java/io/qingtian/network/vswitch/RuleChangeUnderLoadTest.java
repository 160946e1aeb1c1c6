package io.qingtian.network.vswitch;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.DropReason;
import io.qingtian.network.packet.Frames;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.random.RandomGenerator;
import org.junit.jupiter.api.Test;

/**
 * Security-group changes against frames forwarded on other threads at the same time: the data
 * path reads the switch's published snapshot and takes no switch-wide lock, and a change is in
 * effect for the very next frame.
 */
class RuleChangeUnderLoadTest {
    private static final int RULE_PORT = 7000;
    private static final int CYCLES = 100;
    /** Background frames are new flows each; the flow tables are sized for all of them. */
    private static final int MAX_BACKGROUND = 30_000;
    private static final int MAX_FLOWS = 32_768;
    /** Racing frames per phase of the rule (then the racer waits for the next phase). */
    private static final int PER_PHASE = 20;
    private static final int CLOSED = 0;
    private static final int OPENING = 1;
    private static final int OPEN = 2;
    private static final int CLOSING = 3;

    private final VirtualSwitch sw = new VirtualSwitch(System::nanoTime, RandomGenerator.of("L64X128MixRandom"), MAX_FLOWS);
    private final Set<Long> delivered = ConcurrentHashMap.newKeySet();
    private Port a;
    private Port b;
    private Port c;
    private Port d;
    private Port e;

    private static long key(Ipv4Address src, int srcPort) {
        return ((src.bits() & 0xffffffffL) << 16) | srcPort;
    }

    private void setUp() {
        sw.createVpc("v", Cidr.parse("10.0.0.0/16"), null);
        sw.createSubnet("s", "v", Cidr.parse("10.0.1.0/24"), null, null);
        sw.createSecurityGroup("g"); // b's: no rule yet, default deny
        sw.createSecurityGroup("open"); // d's
        sw.addRule("open", SecurityRule.of("udp", null, "10.0.0.0/16"));
        a = sw.createPort("a", "s", null, MacAddress.parse("02:00:00:00:00:0a"), List.of(), null);
        b = sw.createPort("b", "s", null, MacAddress.parse("02:00:00:00:00:0b"), List.of("g"), null);
        c = sw.createPort("c", "s", null, MacAddress.parse("02:00:00:00:00:0c"), List.of(), null);
        d = sw.createPort("d", "s", null, MacAddress.parse("02:00:00:00:00:0d"), List.of("open"), null);
        e = sw.createPort("e", "s", null, MacAddress.parse("02:00:00:00:00:0e"), List.of(), null);
        for (Port p : List.of(a, c, e)) {
            sw.attach(p.name(), (f, o, l) -> true);
        }
        sw.attach("b", (f, o, l) -> {
            // The switch calls a sink with the receiving port's lock held: one caller at a time.
            delivered.add(((f[o + 26] & 0xffL) << 40) | ((f[o + 27] & 0xffL) << 32) | ((f[o + 28] & 0xffL) << 24)
                    | ((f[o + 29] & 0xffL) << 16) | ((f[o + 34] & 0xffL) << 8) | (f[o + 35] & 0xffL));
            return true;
        });
        sw.attach("d", (f, o, l) -> true);
        // b and d ping their gateway once (answered by the switch, nothing flooded), so the
        // switch has learned them: the frames to them are unicast.
        for (Port p : List.of(b, d)) {
            byte[] hello = Frames.icmpEcho(p.mac(), p.subnet().gatewayMac(), p.ip(), p.subnet().gateway(), 8, 1, 1,
                    new byte[4]);
            sw.fromPort(p, hello, hello.length);
        }
        delivered.clear();
    }

    private void send(Port from, Port to, int srcPort, int dstPort) {
        byte[] f = Frames.udp(from.mac(), to.mac(), from.ip(), to.ip(), srcPort, dstPort, new byte[8]);
        sw.fromPort(from, f, f.length);
    }

    @Test
    void aRuleChangeTakesEffectOnTheNextFrameWhileOtherThreadsForward() throws Exception {
        setUp();
        SecurityRule rule = SecurityRule.of("udp", Integer.toString(RULE_PORT), "10.0.1.0/24");
        AtomicLong phase = new AtomicLong(CLOSED);
        AtomicLong backgroundFrames = new AtomicLong();
        List<String> violations = new CopyOnWriteArrayList<>();
        long[] checked = new long[2]; // [open, closed], written by the background thread only
        long[] steady = new long[1];
        StopFlag stop = new StopFlag();

        // e → b: new flows to the rule's port, racing the rule changes. A frame that started
        // after the rule was added and ended before its removal began must pass; one that
        // started after the removal returned and ended before the next addition began must not.
        Thread racer = Thread.ofPlatform().name("e-to-b").start(() -> {
            long lastPhase = -1;
            int inPhase = 0;
            for (int i = 0; i < MAX_BACKGROUND && !stop.set; i++) {
                if (phase.get() != lastPhase) {
                    lastPhase = phase.get();
                    inPhase = 0;
                } else if (++inPhase >= PER_PHASE) {
                    // Enough in this phase: wait for the next (the other threads need the CPU).
                    while (phase.get() == lastPhase && !stop.set) {
                        Thread.yield();
                    }
                    i--;
                    continue;
                }
                int srcPort = 1024 + i;
                long before = phase.get();
                send(e, b, srcPort, RULE_PORT);
                long after = phase.get();
                boolean passed = delivered.contains(key(e.ip(), srcPort));
                if (before == after && before == OPEN) {
                    checked[0]++;
                    if (!passed) {
                        violations.add("frame " + srcPort + " dropped while the rule was in force");
                    }
                } else if (before == after && before == CLOSED) {
                    checked[1]++;
                    if (passed) {
                        violations.add("frame " + srcPort + " passed after the rule was removed");
                    }
                }
                backgroundFrames.incrementAndGet();
            }
            stop.set = true;
        });
        // c → d: one established flow, forwarded throughout; none of its frames may be lost.
        Thread steadyFlow = Thread.ofPlatform().name("c-to-d").start(() -> {
            while (!stop.set) {
                send(c, d, 5000, 6000);
                if (++steady[0] % 64 == 0) {
                    Thread.yield(); // forwarding all along, but not starving the control thread
                }
            }
        });

        int mainPort = 30_000;
        try {
            for (int cycle = 0; cycle < CYCLES && !stop.set; cycle++) {
                phase.set(OPENING);
                sw.addRule("g", rule);
                phase.set(OPEN);
                int p1 = mainPort++;
                send(a, b, p1, RULE_PORT);
                assertThat(delivered).as("a new flow right after the rule was added").contains(key(a.ip(), p1));
                awaitProgress(backgroundFrames, stop);

                phase.set(CLOSING);
                sw.removeRule("g", rule);
                phase.set(CLOSED);
                int p2 = mainPort++;
                send(a, b, p2, RULE_PORT);
                assertThat(delivered).as("a new flow right after the rule was removed").doesNotContain(key(a.ip(), p2));
                awaitProgress(backgroundFrames, stop);
            }
        } finally {
            stop.set = true;
            racer.join(30_000);
            steadyFlow.join(30_000);
        }

        assertThat(violations).isEmpty();
        assertThat(checked[0]).as("racing frames checked while the rule was in force").isPositive();
        assertThat(checked[1]).as("racing frames checked while it was not").isPositive();
        PortStats bs = sw.stats("b");
        assertThat(bs.txPackets()).isEqualTo(delivered.size() + 1); // + the gateway's echo reply
        assertThat(sw.stats("e").rxPackets()).isEqualTo(backgroundFrames.get());
        // Every frame to b was delivered or dropped for a reason of this race, none lost.
        assertThat(bs.txPackets() - 1 + bs.drops(DropReason.SECURITY_GROUP) + bs.drops(DropReason.RECONFIGURED)
                + sw.stats("e").drops(DropReason.RECONFIGURED))
                .as("b %s, e %s, a %s, main frames %d", bs, sw.stats("e"), sw.stats("a"), mainPort - 30_000)
                .isEqualTo(backgroundFrames.get() + (mainPort - 30_000));
        assertThat(mainPort - 30_000).as("rule changes made").isEqualTo(2 * CYCLES);
        // The steady flow: at most its first frame met a reconfiguration, then every one arrived.
        long reconfigured = sw.stats("c").drops(DropReason.RECONFIGURED) + sw.stats("d").drops(DropReason.RECONFIGURED);
        assertThat(sw.stats("d").txPackets() - 1 + reconfigured).as("the steady flow lost nothing").isEqualTo(steady[0]);
        assertThat(steady[0]).isPositive();
    }

    /** Lets the racing thread forward a few frames in the current phase (unless it has finished). */
    private static void awaitProgress(AtomicLong frames, StopFlag stop) throws InterruptedException {
        long start = frames.get();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        while (frames.get() < start + 3 && !stop.set && System.nanoTime() < deadline) {
            Thread.sleep(0, 100_000);
        }
    }

    /** The data path never waits for the control plane's lock: a frame is forwarded while another thread holds it. */
    @Test
    void forwardingDoesNotTakeTheSwitchLock() throws Exception {
        setUp();
        sw.addRule("g", SecurityRule.of("udp", Integer.toString(RULE_PORT), "10.0.1.0/24"));
        CountDownLatch forwarded = new CountDownLatch(1);
        synchronized (sw) {
            Thread.ofPlatform().start(() -> {
                send(a, b, 40_000, RULE_PORT);
                forwarded.countDown();
            });
            assertThat(forwarded.await(20, TimeUnit.SECONDS)).as("forwarded while the switch's lock was held").isTrue();
        }
        assertThat(delivered).contains(key(a.ip(), 40_000));
    }

    /** A stop flag both threads poll. */
    private static final class StopFlag {
        volatile boolean set;
    }
}
