package io.qingtian.trust.measure;

/**
 * The PCR map. Registers are SHA-384 (48 bytes) like Nitro's; the indices follow Nitro's meaning
 * where one exists (PCR1 kernel, PCR2 the user-space payload, PCR8 the signer) and take free
 * slots otherwise.
 * <pre>
 *  PCR0  hypervisor build   SHA-384 over the hypervisor/card jars   (Nitro: enclave image)
 *  PCR1  kernel             SHA-384 of the kernel image bytes       (Nitro: kernel + bootstrap)
 *  PCR2  initramfs          SHA-384 of the initramfs bytes          (Nitro: application)
 *  PCR3  cmdline            SHA-384 of the cmdline UTF-8 bytes      (Nitro: IAM role - unused here)
 *  PCR4  ACPI tables        SHA-384 of each generated table, in order (Nitro: parent instance id)
 *  PCR8  image signer       SHA-384 of the trust anchor's SPKI DER  (Nitro: signing certificate)
 * </pre>
 */
public final class Pcr {
    public static final int COUNT = 16;
    public static final int HYPERVISOR = 0;
    public static final int KERNEL = 1;
    public static final int INITRAMFS = 2;
    public static final int CMDLINE = 3;
    public static final int ACPI_TABLES = 4;
    public static final int IMAGE_SIGNER = 8;

    private Pcr() {}
}
