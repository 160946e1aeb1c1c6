package io.qingtian.sys;

import java.util.List;

/**
 * Creates the downcall handles a KVM VMM needs on a background thread, while the main thread
 * is still parsing its command line. Creating a downcall handle spins classes (a binding
 * specializer, lambda forms) that the AOT cache does not keep; in the nested lab, where L1 runs
 * the JVM 10-30x slower under TCG, the 15 handles of {@code qt hypervisor run} took seconds.
 * The handles live in holder classes ({@link NativeCall}), so initializing a holder here is
 * exactly the work the VMM would do later on its own thread; class initialization is
 * thread-safe, so a holder the main thread needs first is simply waited for, never built twice.
 *
 * <p>Best effort: any failure is left for the real call to report. {@code -Dqingtian.prewarm=false}
 * turns it off (to measure it).
 */
public final class NativePrewarm {
    /** Holder classes on the path of building and running a VM (open through the vCPU loop's signals). */
    static final List<String> KVM_VMM = List.of(
            "io.qingtian.sys.Libc$Open", "io.qingtian.sys.Libc$IoctlValue", "io.qingtian.sys.Libc$IoctlPtr",
            "io.qingtian.sys.Libc$MemfdCreate", "io.qingtian.sys.Libc$Ftruncate", "io.qingtian.sys.Libc$Mmap",
            "io.qingtian.sys.Madvise$H", "io.qingtian.sys.Libc$Eventfd", "io.qingtian.sys.Signals$Sigrtmin",
            "io.qingtian.sys.Signals$PthreadSigmask", "io.qingtian.sys.Signals$PthreadSelf",
            "io.qingtian.sys.Signals$PthreadKill", "io.qingtian.sys.Signals$Sigtimedwait",
            "io.qingtian.sys.Libc$Close", "io.qingtian.sys.Libc$Munmap");

    private NativePrewarm() {}

    /** Starts a daemon thread that initializes {@link #KVM_VMM}'s holders; returns it (or null when off). */
    public static Thread startForKvmVmm() {
        if (!Boolean.parseBoolean(System.getProperty("qingtian.prewarm", "true"))) {
            return null;
        }
        Thread t = new Thread(NativePrewarm::initializeKvmVmm, "qt-native-prewarm");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** Initializes the holders in {@link #KVM_VMM} on this thread. */
    static void initializeKvmVmm() {
        ClassLoader loader = NativePrewarm.class.getClassLoader();
        for (String holder : KVM_VMM) {
            try {
                Class.forName(holder, true, loader);
            } catch (ClassNotFoundException | LinkageError | RuntimeException e) {
                // the real call reports whatever went wrong
            }
        }
    }
}
