package io.qingtian.kvm;

/**
 * Linux ioctl request numbers, computed the way {@code <asm-generic/ioctl.h>} does:
 * {@code dir << 30 | size << 16 | type << 8 | nr}. KVM's numbers are derived from these and
 * the struct layouts in {@link KvmLayouts}, so a wrong layout size shows up as a wrong number
 * (and the unit test compares them with the values from {@code <linux/kvm.h>}).
 */
public final class Ioctl {
    private static final int NRBITS = 8;
    private static final int TYPEBITS = 8;
    private static final int SIZEBITS = 14;
    private static final int NRSHIFT = 0;
    private static final int TYPESHIFT = NRSHIFT + NRBITS;
    private static final int SIZESHIFT = TYPESHIFT + TYPEBITS;
    private static final int DIRSHIFT = SIZESHIFT + SIZEBITS;

    static final int NONE = 0;
    static final int WRITE = 1;
    static final int READ = 2;

    private Ioctl() {}

    static long ioc(int dir, int type, int nr, long size) {
        if (size < 0 || size >= (1L << SIZEBITS)) {
            throw new IllegalArgumentException("ioctl argument size out of range: " + size);
        }
        return ((long) dir << DIRSHIFT) | (size << SIZESHIFT) | ((long) type << TYPESHIFT) | ((long) nr << NRSHIFT);
    }

    /** {@code _IO(type, nr)}: no argument (or an integer argument). */
    public static long io(int type, int nr) {
        return ioc(NONE, type, nr, 0);
    }

    /** {@code _IOR(type, nr, T)}: the kernel writes a T to user space. */
    public static long ior(int type, int nr, long size) {
        return ioc(READ, type, nr, size);
    }

    /** {@code _IOW(type, nr, T)}: the kernel reads a T from user space. */
    public static long iow(int type, int nr, long size) {
        return ioc(WRITE, type, nr, size);
    }

    /** {@code _IOWR(type, nr, T)}: both directions. */
    public static long iowr(int type, int nr, long size) {
        return ioc(READ | WRITE, type, nr, size);
    }
}
