package io.qingtian.e2e.hypervisor;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.e2e.GuestInit;
import io.qingtian.e2e.L2Runs;
import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.LabResult;
import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Our hypervisor boots the stock Debian cloud kernel with a busybox initramfs on the real KVM
 * inside the nested lab. One L1 boot runs three VMs in a row (1 vCPU, 2 vCPUs, and a guest
 * that reboots), each 256 MiB, and reports each one's console and exit status; the tests
 * then check what each VM printed and how it ended.
 */
@Tag("lab")
class HypervisorLabTest {
    static final String MARKER = GuestInitramfs.DEFAULT_MARKER;
    /** /init: marker, vCPU count, memory, then poweroff, or reboot when the cmdline asks. */
    static final String INIT = GuestInit.MOUNTS + """
            echo "%s"
            echo "nproc=$(nproc)"
            grep MemTotal /proc/meminfo
            echo "xsave-warnings=$(dmesg | grep -c 'XSAVE consistency problem')"
            case "$(cat /proc/cmdline)" in
              *qt.action=reboot*) echo "rebooting"; reboot -f ;;
              *) poweroff -f ;;
            esac
            """.formatted(MARKER);
    static final String RUN = L2Runs.HYPERVISOR_RUN;
    static final String CMDLINE = "console=ttyS0 reboot=k panic=1 quiet";

    static L2Runs.Result runs;
    static LabResult result;

    @BeforeAll
    static void bootThreeVms(@TempDir Path tmp) throws Exception {
        runs = new L2Runs()
                .add("vm1", RUN + " --cpus 1 --cmdline '" + CMDLINE + "'")
                .add("vm2", RUN + " --cpus 2 --cmdline '" + CMDLINE + "'")
                .add("vm3", RUN + " --cpus 1 --cmdline '" + CMDLINE + " qt.action=reboot'")
                .run(tmp, INIT, Duration.ofMinutes(15), "hypervisor");
        result = runs.lab();
    }

    /** The console of VM {@code n}: what it printed between its start and exit lines. */
    static String vm(int n) {
        return runs.section("vm" + n);
    }

    static int rc(int n) {
        return runs.rc("vm" + n);
    }

    static long memTotalKib(String console) {
        Matcher m = Pattern.compile("MemTotal:\\s+(\\d+) kB").matcher(console);
        assertThat(m.find()).as("MemTotal printed").isTrue();
        return Long.parseLong(m.group(1));
    }

    @Test
    void bootsStockKernelWithOneCpuAndPowersOffWithStatusZero() {
        String console = vm(1);
        assertThat(console).contains(MARKER).contains("nproc=1");
        // MemTotal is RAM minus what the kernel keeps for itself: within 256 MiB, above 200 MiB.
        assertThat(memTotalKib(console)).isBetween(200L * 1024, 256L * 1024);
        assertThat(rc(1)).isZero();
    }

    @Test
    void bootsStockKernelWithTwoCpus() {
        String console = vm(2);
        assertThat(console).contains(MARKER).contains("nproc=2");
        assertThat(memTotalKib(console)).isBetween(200L * 1024, 256L * 1024);
        assertThat(rc(2)).isZero();
    }

    /** CPUID leaf 0xD and the vCPU's initial XCR0 agree, so Linux keeps XSAVE (x86/x86/Xcr0.java). */
    @Test
    void guestKernelAcceptsTheXsaveLayout() {
        assertThat(vm(1)).contains("xsave-warnings=0");
        assertThat(vm(2)).contains("xsave-warnings=0");
    }

    @Test
    void guestRebootEndsTheVmWithTheRebootStatus() {
        assertThat(vm(3)).contains(MARKER).contains("rebooting");
        assertThat(rc(3)).isEqualTo(3);
    }

    @Test
    void theLabItselfSucceeded() {
        assertThat(result.timedOut()).isFalse();
        assertThat(result.exitCode()).as(result.stderr()).isZero();
    }
}
