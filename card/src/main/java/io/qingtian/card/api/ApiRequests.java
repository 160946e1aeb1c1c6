package io.qingtian.card.api;

import java.util.List;

/**
 * Request bodies of the control API. Decoded strictly (unknown fields, wrong JSON types,
 * trailing data -> 400); ranges are checked by {@link Validate}. Boxed types so a missing
 * required field is detected as null rather than defaulted.
 */
public final class ApiRequests {
    private ApiRequests() {}

    public record CreateTenant(String name) {}

    public record CreateVolume(String name, String size, Boolean encrypted, Long iops, Long bandwidth) {}

    public record CreateInstance(String name, String kernel, String initramfs, String cmdline, String manifest,
            Integer cpus, Integer memoryMib, List<String> volumes, List<String> nics, String restartPolicy,
            Boolean start) {}

    /** {@code POST /v1/instances/{name}/snapshot}. */
    public record CreateSnapshot(String name) {}

    /** {@code POST /v1/instances/{name}/restore}. */
    public record Restore(String snapshot) {}

    public record CreateVpc(String name, String cidr) {}

    public record CreateSubnet(String name, String vpc, String cidr, String dns) {}

    public record CreateSecurityGroup(String name) {}

    public record AddRule(String proto, String ports, String from) {}

    public record CreateNic(String name, String subnet, String ip, String mac, List<String> securityGroups,
            Long maxBitsPerSecond, Long maxPacketsPerSecond) {}

    /** {@code nonce} hex (1..1024 bytes), the others base64 (at most 1024 bytes each). */
    public record Attest(String nonce, String userData, String publicKey) {}
}
