package io.qingtian.sys;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.invoke.MethodHandle;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class NativePrewarmTest {

    /** A renamed or removed holder would silently stop being prewarmed; this catches it. */
    @Test
    void everyListedHolderExistsAndHoldsADowncallHandle() throws Exception {
        for (String name : NativePrewarm.KVM_VMM) {
            Class<?> holder = Class.forName(name, false, NativePrewarm.class.getClassLoader());
            assertThat(Arrays.stream(holder.getDeclaredFields())
                    .anyMatch(f -> Modifier.isStatic(f.getModifiers()) && f.getType() == MethodHandle.class))
                    .as(name + " holds a static MethodHandle").isTrue();
        }
    }

    @Test
    void prewarmedHoldersWorkFromAnotherThread() throws Exception {
        Thread t = NativePrewarm.startForKvmVmm();
        assertThat(t).isNotNull();
        t.join(60_000);
        assertThat(t.isAlive()).isFalse();
        int fd = Libc.memfdCreate("qt-prewarm", Libc.MFD_CLOEXEC);
        Libc.close(fd);
    }
}
