package io.qingtian.lab;

/**
 * How a lab run ended.
 *
 * @param exitCode the command's exit status, or {@link Lab#TIMEOUT_EXIT} (124) if it timed out
 * @param stdout   everything the command wrote to stdout (UTF-8)
 * @param stderr   everything the command wrote to stderr (UTF-8)
 * @param timedOut whether the run hit {@link LabRequest#timeout()} (QEMU was killed)
 * @param timings  how long L1 took to boot and the command to run
 * @param console  L1's kernel console (ttyS0), for diagnosing boot problems
 * @param jvmCrashes one line per JVM in L1 that died of a fatal error ({@code hs_err_pid} file,
 *                 signal, problematic frame); an emulator crash ({@link Lab#isEmulatorCrash}) makes {@link Lab} rerun once in a fresh L1
 */
public record LabResult(int exitCode, String stdout, String stderr, boolean timedOut, Timings timings, String console,
                        java.util.List<String> jvmCrashes) {

    /**
     * @param l1BootMillis  from QEMU start until L1's init was ready to run the command
     *                      (kernel booted, modules loaded, lab disk mounted); -1 if it never was
     * @param commandMillis from then until the command's exit status arrived; -1 if it never did
     */
    public record Timings(long l1BootMillis, long commandMillis) {
        /** {@code l1-boot 6.1 s, command 2.3 s}. */
        @Override
        public String toString() {
            return "l1-boot " + seconds(l1BootMillis) + ", command " + seconds(commandMillis);
        }

        private static String seconds(long ms) {
            return ms < 0 ? "-" : String.format("%.1f s", ms / 1000.0);
        }
    }
}
