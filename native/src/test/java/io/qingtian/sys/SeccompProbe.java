package io.qingtian.sys;

import java.lang.foreign.MemorySegment;

/**
 * A test program: installs the hypervisor's seccomp filter, proves an allowed call still works,
 * then makes the call named by its argument. Run as its own JVM by {@link SeccompTest}.
 */
public final class SeccompProbe {
    public static void main(String[] args) {
        Seccomp.installHypervisorFilter();
        System.out.println("installed mode=" + Seccomp.mode() + " pid=" + Libc.getpid());
        System.out.flush();
        if (args.length > 0) {
            int nr = Seccomp.DENIED.get(args[0]);
            long r = Seccomp.syscall(nr, 0, 0, MemorySegment.NULL);
            System.out.println("survived " + args[0] + " = " + r);
        }
    }
}
