package io.qingtian.card.instance;

import java.util.List;

/**
 * What the card needs to launch one instance; validated at the API edge, stored as
 * {@code STATE/instances/ID/instance.json}. Paths are absolute files under the card's image
 * directory; {@code volumes} and {@code nics} are the card's internal (tenant-qualified) names.
 *
 * @param manifest a signed boot manifest (secure boot) instead of kernel/initramfs/cmdline
 */
public record InstanceSpec(String id, String tenant, String name, String kernel, String initramfs, String cmdline,
        String manifest, int cpus, int memoryMib, List<String> volumes, List<String> nics, RestartPolicy restart) {
    public InstanceSpec {
        volumes = volumes == null ? List.of() : List.copyOf(volumes);
        nics = nics == null ? List.of() : List.copyOf(nics);
        restart = restart == null ? RestartPolicy.NEVER : restart;
    }
}
