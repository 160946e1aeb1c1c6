package io.qingtian.acpi;

/**
 * A component that describes itself in the DSDT (Cloud Hypervisor's {@code Aml} trait):
 * the power-management block appends its {@code \_S5_} package, the PCI host bridge its
 * {@code \_SB_.PCI0}, and so on. Adding a device never touches a central table writer.
 *
 * <p>Sources write at the DSDT's root scope; a source that wants to live under
 * {@code \_SB_} opens that scope itself ({@link AmlWriter#scope}).
 */
@FunctionalInterface
public interface AmlSource {
    void appendAml(AmlWriter w);
}
