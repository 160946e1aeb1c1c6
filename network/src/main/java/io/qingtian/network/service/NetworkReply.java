package io.qingtian.network.service;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;
import java.util.Map;

/** What a {@link NetworkRequest} returns; each record prints as one or a few lines. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
@JsonSubTypes({
        @JsonSubTypes.Type(value = NetworkReply.VpcInfo.class, name = "vpc"),
        @JsonSubTypes.Type(value = NetworkReply.SubnetInfo.class, name = "subnet"),
        @JsonSubTypes.Type(value = NetworkReply.SgInfo.class, name = "sg"),
        @JsonSubTypes.Type(value = NetworkReply.NicInfo.class, name = "nic"),
        @JsonSubTypes.Type(value = NetworkReply.ExportInfo.class, name = "export"),
        @JsonSubTypes.Type(value = NetworkReply.NicUnexported.class, name = "nic.unexported"),
        @JsonSubTypes.Type(value = NetworkReply.NicStatsInfo.class, name = "stats"),
        @JsonSubTypes.Type(value = NetworkReply.NicDeleted.class, name = "nic.deleted"),
        @JsonSubTypes.Type(value = NetworkReply.UplinkInfo.class, name = "uplink"),
        @JsonSubTypes.Type(value = NetworkReply.Config.class, name = "config"),
})
public sealed interface NetworkReply {
    /** Human-readable lines for the CLI. */
    String render();

    record VpcInfo(String name, String cidr, String tenant) implements NetworkReply {
        public String render() {
            return "vpc " + name + " " + cidr + " tenant " + tenant;
        }
    }

    record SubnetInfo(String name, String vpc, String cidr, String gateway, String gatewayMac, String dns)
            implements NetworkReply {
        public String render() {
            return "subnet " + name + " " + cidr + " in vpc " + vpc + " gateway " + gateway + " (" + gatewayMac + ")";
        }
    }

    /** Rules rendered as {@code "tcp 22-22 from 0.0.0.0/0"}. */
    record SgInfo(String name, List<String> rules) implements NetworkReply {
        public String render() {
            StringBuilder b = new StringBuilder("sg " + name + " (" + rules.size() + " rules)");
            rules.forEach(r -> b.append("\n  allow ").append(r));
            return b.toString();
        }
    }

    record NicInfo(String name, String subnet, String vpc, String ip, String mac, List<String> securityGroups,
                   String instance, long maxBitsPerSecond, long maxPacketsPerSecond) implements NetworkReply {
        public String render() {
            return "nic " + name + " " + ip + " " + mac + " subnet " + subnet + " vpc " + vpc + " sg "
                    + String.join(",", securityGroups);
        }
    }

    record ExportInfo(String name, String vhostUserSocket) implements NetworkReply {
        public String render() {
            return "nic " + name + " exported at " + vhostUserSocket;
        }
    }

    /** An export that was stopped and forgotten; {@code wasRunning} false: it had not come back at start. */
    record NicUnexported(String name, String vhostUserSocket, boolean wasRunning) implements NetworkReply {
        public String render() {
            return "nic " + name + " unexported from " + vhostUserSocket
                    + (wasRunning ? " (socket removed)" : " (it was not running)");
        }
    }

    /**
     * Counters; {@code shaperStalledMillis}: time the guest's frames waited on a rate limit
     * while the card's worker was off the CPU beyond the bucket's depth (the limit then
     * under-delivers: the card needs more CPU), since the limit was last set.
     */
    record NicStatsInfo(String name, boolean linkUp, long rxPackets, long rxBytes, long txPackets, long txBytes,
                        Map<String, Long> drops, long shaperStalledMillis) implements NetworkReply {
        public String render() {
            StringBuilder b = new StringBuilder();
            b.append("nic ").append(name).append(" link ").append(linkUp ? "up" : "down").append('\n');
            b.append("  rx (from guest) packets ").append(rxPackets).append(" bytes ").append(rxBytes).append('\n');
            b.append("  tx (to guest)   packets ").append(txPackets).append(" bytes ").append(txBytes);
            drops.forEach((k, v) -> b.append("\n  drop ").append(k).append(' ').append(v));
            if (shaperStalledMillis > 0) {
                b.append("\n  rate limit stalled ").append(shaperStalledMillis).append(" ms (card CPU busy)");
            }
            return b.toString();
        }
    }

    /** A deleted NIC: its address (free again) and the export that was stopped, if any. */
    record NicDeleted(String name, String ip, String vhostUserSocket) implements NetworkReply {
        public String render() {
            return "nic " + name + " deleted, " + ip + " is free"
                    + (vhostUserSocket == null ? "" : ", export at " + vhostUserSocket + " stopped");
        }
    }

    record UplinkInfo(String vpc, String tap, String routerMac) implements NetworkReply {
        public String render() {
            return "uplink " + tap + " attached to vpc " + vpc + " (router MAC " + routerMac + ")";
        }
    }

    /** The persisted configuration; also the state file's content. */
    record Config(List<VpcInfo> vpcs, List<SubnetInfo> subnets, List<SgInfo> securityGroups, List<NicInfo> nics,
                  List<UplinkInfo> uplinks, List<ExportInfo> exports) implements NetworkReply {
        public String render() {
            StringBuilder b = new StringBuilder();
            vpcs.forEach(v -> b.append(v.render()).append('\n'));
            subnets.forEach(v -> b.append(v.render()).append('\n'));
            securityGroups.forEach(v -> b.append(v.render()).append('\n'));
            nics.forEach(v -> b.append(v.render()).append('\n'));
            uplinks.forEach(v -> b.append(v.render()).append('\n'));
            exports.forEach(v -> b.append(v.render()).append('\n'));
            return b.toString().stripTrailing();
        }
    }
}
