package io.qingtian.hypervisor.demo;

import io.qingtian.hypervisor.Console;
import io.qingtian.hypervisor.ExitStatus;
import io.qingtian.hypervisor.Vm;
import io.qingtian.hypervisor.VmBuilder;
import io.qingtian.hypervisor.VmConfig;
import io.qingtian.hypervisor.VmExit;
import io.qingtian.kvm.KvmFlavour;
import io.qingtian.lab.GuestInitramfs;
import io.qingtian.lab.GuestKernel;
import io.qingtian.lab.Lab;
import io.qingtian.lab.LabRequest;
import io.qingtian.lab.LabResult;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code qt demo}: the stock Debian cloud kernel boots on the QingTian hypervisor with 2 vCPUs
 * and 256 MiB to a busybox shell, which runs a few commands and powers the VM off. Natively
 * when this host's KVM is hardware KVM; otherwise (PVM, no VT-x/AMD-V) inside the nested lab,
 * where L1 has a real KVM. It says which.
 *
 * <p>The demo has no device backends to share memory with, so it uses private anonymous RAM
 * with transparent huge pages: under nested paging the bzImage's self-decompression reached
 * the first console output about twice as fast as with the (default) memfd backing.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Boot the stock Debian kernel on the QingTian hypervisor (2 vCPUs, 256 MiB) to a busybox "
                + "shell, run a few commands, power off. Natively on hardware KVM, else inside the nested lab.")
public final class DemoCommand implements Callable<Integer> {
    static final int CPUS = 2;
    static final String MEMORY = "256M";
    static final String MARKER = "qingtian-demo: busybox shell up";

    /** The guest's /init: a busybox shell script that shows the machine and powers off. */
    static final String INIT = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev
            echo
            echo "%s"
            for c in "uname -a" "nproc" "free -m" "grep -c ^processor /proc/cpuinfo" "cat /proc/cmdline"; do
              echo "/ # $c"
              sh -c "$c"
            done
            echo "/ # poweroff -f"
            poweroff -f
            """.formatted(MARKER);

    @Option(names = "--lab", description = "run in the nested lab even if this host's KVM could run it natively")
    boolean forceLab;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "900",
            description = "give up after this long (default ${DEFAULT-VALUE}; the first lab run builds its image)")
    long timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        KvmFlavour flavour = KvmFlavour.detect();
        Path tmp = Files.createTempDirectory("qt-demo");
        try {
            Path initramfs = tmp.resolve("demo.cpio");
            GuestInitramfs.withInit(INIT).writeTo(initramfs);
            if (flavour.runsStockGuests() && !forceLab) {
                System.err.println("qt demo: this host has " + flavour.describe()
                        + ": booting the stock kernel natively, 2 vCPUs, 256 MiB");
                return runNative(initramfs);
            }
            System.err.println("qt demo: this host's /dev/kvm is " + flavour.describe()
                    + "; running the demo inside the nested lab (QEMU TCG with a real KVM in L1)");
            return runInLab(initramfs);
        } finally {
            try (var s = Files.walk(tmp)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private int runNative(Path initramfs) throws Exception {
        GuestKernel kernel = GuestKernel.stock();
        VmConfig config = new VmConfig(new VmConfig.Machine(CPUS, VmConfig.parseSize(MEMORY),
                io.qingtian.hypervisor.memory.GuestRam.Backing.PRIVATE_ANONYMOUS),
                new VmConfig.BootSource(kernel.bzImage(), initramfs, VmConfig.DEFAULT_CMDLINE + " quiet"));
        try (Vm vm = VmBuilder.build(config, new Console(new FileOutputStream(FileDescriptor.out), null))) {
            vm.start();
            VmExit exit = vm.awaitExit(Duration.ofSeconds(timeoutSeconds));
            if (exit == null) {
                System.err.println("qt demo: the guest did not power off within " + timeoutSeconds + " s");
                return ExitStatus.STOPPED.code();
            }
            System.err.println("qt demo: " + exit.detail() + " (exit status " + exit.code() + ")");
            return exit.code();
        }
    }

    private int runInLab(Path initramfs) {
        String command = "qt hypervisor run --kernel \"$QT_GUEST_KERNEL\" --initramfs /tmp/demo.cpio --cpus " + CPUS
                + " --memory " + MEMORY + " --memory-backing anonymous --cmdline '" + VmConfig.DEFAULT_CMDLINE + " quiet'";
        LabRequest request = LabRequest.of("sh", "-c", command)
                .withFile(initramfs, "/tmp/demo.cpio")
                .withTimeout(Duration.ofSeconds(timeoutSeconds));
        LabResult r = new Lab().run(request, System.out, System.err);
        System.err.println("qt demo: lab " + r.timings() + (r.timedOut() ? ", timed out" : "")
                + "; hypervisor exit status " + r.exitCode());
        return r.exitCode();
    }
}
