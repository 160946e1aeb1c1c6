package io.qingtian.lab;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Which JVM crashes in L1 the lab takes for the emulator's (and reruns), as L1's watcher reports them. */
class EmulatorCrashTest {
    @Test
    void sigillAnywhereIsTheEmulators() {
        assertThat(Lab.isEmulatorCrash("/tmp/hs_err_pid9.log SIGILL (0x4): J 812 c1 jdk.internal.foreign."
                + "AbstractMemorySegmentImpl.asSliceNoCheck(JJ)Ljava/lang/foreign/MemorySegment; java.base@25.0.3 (40 bytes) "
                + "@ 0x00007f1c2d1a3b4c [0x00007f1c2d1a3a40+0x000000000000010c]")).isTrue();
    }

    @Test
    void aFaultOnACompiledMethodsFirstInstructionIsTheEmulators() {
        // seen in a PciLabTest run in L1
        assertThat(Lab.isEmulatorCrash("/tmp/hs_err_pid622.log SIGSEGV (0xb): J 57 c1 java.util.zip.ZipUtils.get32([BI)J "
                + "java.base@25.0.3 (40 bytes) @ 0x00007f2675606600 [0x00007f2675606600+0x0000000000000000]")).isTrue();
        assertThat(Lab.isEmulatorCrash("/tmp/hs_err_pid7.log SIGBUS (0x7): J 3 c2 java.lang.String.hashCode()I "
                + "java.base@25.0.3 (60 bytes) @ 0x00007f00000000a0 [0x00007f00000000a0+0x0000000000000000]")).isTrue();
    }

    @Test
    void aFaultInsideAMethodOrInNativeCodeIsOursToExplain() {
        // a memory access through a stale segment faults inside the method, not at its entry
        assertThat(Lab.isEmulatorCrash("/tmp/hs_err_pid5.log SIGSEGV (0xb): J 900 c1 jdk.internal.misc.ScopedMemoryAccess."
                + "getIntUnaligned(...)I java.base@25.0.3 (20 bytes) @ 0x00007f2675606640 [0x00007f2675606600+0x0000000000000040]")).isFalse();
        // the entry address differs from the pc
        assertThat(Lab.isEmulatorCrash("/tmp/hs_err_pid5.log SIGSEGV (0xb): J 9 c1 a.B.c()V (4 bytes) "
                + "@ 0x00007f2675606600 [0x00007f2675600000+0x0000000000000000]")).isFalse();
        assertThat(Lab.isEmulatorCrash("/tmp/hs_err_pid4.log SIGSEGV (0xb): C  [libc.so.6+0x9a1b2]  __memmove_avx_unaligned_erms+0x52")).isFalse();
        assertThat(Lab.isEmulatorCrash("/tmp/hs_err_pid3.log SIGABRT (0x6): V  [libjvm.so+0x5c1a2]")).isFalse();
        assertThat(Lab.isEmulatorCrash("/tmp/hs_err_pid2.log unknown signal: ")).isFalse();
    }
}
