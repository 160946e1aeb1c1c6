import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

/**
 * Where a switch worker's time per frame goes: reads a JFR recording of {@code DataPathMicro}
 * (or {@code ServeSwitch}) and sorts the execution samples of one thread into the stages of
 * the frame path by the innermost frame that belongs to a stage. JFR's samples carry inlined
 * methods, which a plain {@code perf} profile of JIT-compiled code folds into their caller.
 *
 * <p>{@code java FrameProfile.java RECORDING.jfr [THREAD_PREFIX] [NS_PER_FRAME]}: the thread
 * defaults to NIC a's transmit worker ({@code vhost-user-net:a-q1}); with the CPU ns per frame
 * measured in the same run each stage is also given in ns per frame. Run by {@code profile.sh}.
 */
public class FrameProfile {
    /** A stage: matched when a frame's "class.method" starts with one of the prefixes. */
    record Stage(String name, List<String> prefixes) {
        boolean matches(String m) {
            for (String p : prefixes) {
                if (m.startsWith(p)) {
                    return true;
                }
            }
            return false;
        }
    }

    // Innermost match wins, so specific stages are found before the code that calls them.
    static final List<Stage> STAGES = List.of(
            new Stage("descriptor walk", List.of("io.qingtian.virtio.queue.DescriptorChain.walk",
                    "io.qingtian.virtio.memory.GuestMemory.regionFor")),
            new Stage("copy (guest <-> frame buffer)", List.of("io.qingtian.virtio.queue.DescriptorChain.copy",
                    "jdk.internal.misc.ScopedMemoryAccess.copy", "jdk.internal.misc.Unsafe.copyMemory",
                    "java.lang.foreign.MemorySegment.copy", "jdk.internal.foreign.AbstractMemorySegmentImpl.copy")),
            new Stage("header parse + checksums", List.of("io.qingtian.network.packet.")),
            new Stage("conntrack", List.of("io.qingtian.network.vswitch.ConnTrack.", "io.qingtian.network.vswitch.FlowTable.")),
            new Stage("lookup, security group, counters", List.of("io.qingtian.network.vswitch.")),
            new Stage("avail ring (pop)", List.of("io.qingtian.virtio.queue.SplitQueue.pop",
                    "io.qingtian.virtio.queue.SplitQueue.pending", "io.qingtian.network.vhostuser.SplitRxRing.pop",
                    "io.qingtian.vhostuser.backend.DeviceQueue.pop")),
            new Stage("used ring update + publish", List.of("io.qingtian.virtio.queue.SplitQueue.addUsed",
                    "io.qingtian.virtio.queue.SplitQueue.publishUsed", "io.qingtian.virtio.queue.SplitQueue.needsNotification",
                    "io.qingtian.vhostuser.backend.RingNotifications.publish", "io.qingtian.network.virtionet.RxBatch",
                    "io.qingtian.network.virtionet.VirtioNetPort.publish", "io.qingtian.network.vhostuser.SplitRxRing")),
            new Stage("notification (eventfd, poll, kick flags)", List.of("io.qingtian.sys.", "io.qingtian.virtio.queue.SplitQueue.",
                    "io.qingtian.vhostuser.backend.RingNotifications")),
            new Stage("virtio-net rx (header, buffers)", List.of("io.qingtian.network.virtionet.VirtioNetPort.write",
                    "io.qingtian.network.virtionet.VirtioNetPort.transmit")),
            new Stage("virtio-net tx (header, frame out of the chain)", List.of("io.qingtian.network.virtionet.",
                    "io.qingtian.network.vhostuser.")),
            new Stage("worker loop", List.of("io.qingtian.vhostuser.backend.")));

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        String thread = args.length > 1 ? args[1] : "vhost-user-net:a-q1";
        double nsPerFrame = args.length > 2 ? Double.parseDouble(args[2]) : 0;
        Map<String, Long> counts = new LinkedHashMap<>();
        for (Stage s : STAGES) {
            if (s.name().equals("descriptor walk") || s.name().equals("avail ring (pop)")) {
                counts.put(s.name() + ", transmit ring", 0L);
                counts.put(s.name() + ", receive ring", 0L);
            } else {
                counts.put(s.name(), 0L);
            }
        }
        counts.put("other", 0L);
        Map<String, Long> others = new LinkedHashMap<>();
        long total = 0;
        for (RecordedEvent e : RecordingFile.readAllEvents(file)) {
            if (!e.getEventType().getName().equals("jdk.ExecutionSample")) {
                continue;
            }
            RecordedThread t = e.getThread("sampledThread");
            if (t == null || t.getJavaName() == null || !t.getJavaName().startsWith(thread) || e.getStackTrace() == null) {
                continue;
            }
            total++;
            String stage = "other";
            String top = null;
            outer:
            for (RecordedFrame f : e.getStackTrace().getFrames()) {
                String m = f.getMethod().getType().getName() + "." + f.getMethod().getName();
                if (top == null) {
                    top = m;
                }
                for (Stage s : STAGES) {
                    if (s.matches(m)) {
                        stage = s.name();
                        break outer;
                    }
                }
            }
            if (stage.equals("descriptor walk") || stage.equals("avail ring (pop)")) {
                boolean rx = false;
                for (RecordedFrame f : e.getStackTrace().getFrames()) {
                    rx |= f.getMethod().getType().getName().endsWith("SplitRxRing");
                }
                stage += rx ? ", receive ring" : ", transmit ring";
            }
            counts.merge(stage, 1L, Long::sum);
            if (stage.equals("other") && top != null) {
                others.merge(top, 1L, Long::sum);
            }
        }
        System.out.printf("thread %s: %d samples%n", thread, total);
        for (var en : counts.entrySet()) {
            double share = total == 0 ? 0 : en.getValue() * 100.0 / total;
            System.out.printf("  %-48s %5.1f %%%s%n", en.getKey(), share,
                    nsPerFrame > 0 ? String.format("  %5.0f ns/frame", share / 100 * nsPerFrame) : "");
        }
        others.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(8)
                .forEach(en -> System.out.printf("    other: %s %d%n", en.getKey(), en.getValue()));
    }
}
