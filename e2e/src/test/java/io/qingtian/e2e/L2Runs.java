package io.qingtian.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.Lab;
import io.qingtian.lab.LabRequest;
import io.qingtian.lab.LabResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Several runs of our hypervisor inside one boot of the nested lab (an L1 boot is the
 * expensive part), one after the other, each with the same busybox initramfs as its L2
 * guest. Each run's output is framed in L1's stdout ({@code === NAME} ... {@code === rc-NAME=N})
 * so that tests can take each run's console and exit status apart.
 */
public final class L2Runs {
    /** Where the L2 initramfs is inside L1. */
    public static final String INITRAMFS = "/tmp/l2.cpio";
    /** {@code qt hypervisor run} of the lab's guest kernel and {@link #INITRAMFS}, 256 MiB; add flags. */
    public static final String HYPERVISOR_RUN = "qt hypervisor run --kernel \"$QT_GUEST_KERNEL\" --initramfs " + INITRAMFS
            + " --memory 256M";

    private final List<String> lines = new ArrayList<>();

    /** Adds a run: {@code command} is a shell command line in L1. */
    public L2Runs add(String name, String command) {
        lines.add("echo '=== " + name + "'; " + command + "; echo \"=== rc-" + name + "=$?\"");
        return this;
    }

    /**
     * Writes the L2 initramfs with {@code init} as its /init into {@code tmp}, boots the lab
     * once and runs every run in order; prints what happened (for the test report).
     */
    public Result run(Path tmp, String init, Duration timeout, String what) throws Exception {
        Path initramfs = tmp.resolve("l2.cpio");
        GuestInitramfs.withInit(init).writeTo(initramfs);
        LabResult r = new Lab().run(LabRequest.of("sh", "-c", String.join("\n", lines))
                .withFile(initramfs, INITRAMFS)
                .withTimeout(timeout));
        System.out.println(what + " lab run: " + r.timings());
        System.out.println(r.stdout());
        System.out.println(r.stderr());
        return new Result(r);
    }

    /** The lab's outcome, taken apart by run. */
    public record Result(LabResult lab) {
        /** What run {@code name} printed between its start and exit lines. */
        public String section(String name) {
            Matcher m = Pattern.compile("(?s)=== " + Pattern.quote(name) + "\\n(.*?)=== rc-" + Pattern.quote(name) + "=(\\d+)")
                    .matcher(lab.stdout());
            assertThat(m.find()).as("%s ran; lab stdout:%n%s%nstderr:%n%s", name, lab.stdout(), lab.stderr()).isTrue();
            return m.group(1);
        }

        /** Run {@code name}'s exit status. */
        public int rc(String name) {
            Matcher m = Pattern.compile("=== rc-" + Pattern.quote(name) + "=(\\d+)").matcher(lab.stdout());
            assertThat(m.find()).as("%s finished; lab stdout:%n%s", name, lab.stdout()).isTrue();
            return Integer.parseInt(m.group(1));
        }
    }
}
