package io.qingtian.e2e;

import io.qingtian.lab.GuestInitramfs;

/**
 * The start of the busybox /init scripts the end-to-end guests run (under QEMU TCG, or as L2
 * inside the lab).
 */
public final class GuestInit {
    private GuestInit() {}

    /** The shebang and /proc, /sys. */
    public static final String MOUNTS = """
            #!/bin/sh
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            """;

    /**
     * {@link #MOUNTS}, /dev, the initramfs's kernel modules, and {@code waitblk DEV...}: waits
     * until each block device exists, up to 60 s each (a generous bound: a TCG guest on a
     * loaded CI machine probes slowly; the wait ends as soon as the device is there).
     */
    public static final String PRELUDE = MOUNTS + """
            mount -t devtmpfs devtmpfs /dev
            """ + GuestInitramfs.LOAD_MODULES + """
            waitblk() { for d in "$@"; do n=0; while [ ! -b /dev/$d ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; done; }
            """;
}
