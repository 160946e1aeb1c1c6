package io.qingtian.network.vswitch;

/**
 * What the metadata endpoint tells a guest about itself. It comes from the switch's own
 * port record, looked up by the port the request arrived on (never from anything the guest
 * says), so a guest cannot ask for another instance's identity.
 */
public record InstanceIdentity(String instanceId, String tenant, String vpc, String subnet, String nic, String ip,
                               String mac, String gateway) {
    static InstanceIdentity of(Port p) {
        Subnet s = p.subnet();
        return new InstanceIdentity(p.instanceId(), s.vpc().tenant(), s.vpc().name(), s.name(), p.name(),
                p.ip().toString(), p.mac().toString(), s.gateway().toString());
    }

    /** The identity document as JSON (keys in a fixed order; values are escaped). */
    public String toJson() {
        return "{\n"
                + "  \"instanceId\": " + q(instanceId) + ",\n"
                + "  \"tenant\": " + q(tenant) + ",\n"
                + "  \"vpc\": " + q(vpc) + ",\n"
                + "  \"subnet\": " + q(subnet) + ",\n"
                + "  \"nic\": " + q(nic) + ",\n"
                + "  \"privateIp\": " + q(ip) + ",\n"
                + "  \"mac\": " + q(mac) + ",\n"
                + "  \"gateway\": " + q(gateway) + "\n"
                + "}\n";
    }

    private static String q(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
