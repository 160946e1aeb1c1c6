package io.qingtian.network.service;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import java.util.List;

/**
 * One control-plane operation; each maps 1:1 to a {@code qt card ...} command and to one
 * {@link NetworkService} method. On the wire (the card's control socket) it is a JSON object
 * whose {@code "op"} field names the operation, see {@link NetworkWire}.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "op")
@JsonSubTypes({
        @JsonSubTypes.Type(value = NetworkRequest.VpcCreate.class, name = "vpc.create"),
        @JsonSubTypes.Type(value = NetworkRequest.SubnetCreate.class, name = "subnet.create"),
        @JsonSubTypes.Type(value = NetworkRequest.SgCreate.class, name = "sg.create"),
        @JsonSubTypes.Type(value = NetworkRequest.SgRuleAdd.class, name = "sg.rule.add"),
        @JsonSubTypes.Type(value = NetworkRequest.SgRuleRemove.class, name = "sg.rule.remove"),
        @JsonSubTypes.Type(value = NetworkRequest.NicCreate.class, name = "nic.create"),
        @JsonSubTypes.Type(value = NetworkRequest.NicLimit.class, name = "nic.limit"),
        @JsonSubTypes.Type(value = NetworkRequest.NicExport.class, name = "nic.export"),
        @JsonSubTypes.Type(value = NetworkRequest.NicUnexport.class, name = "nic.unexport"),
        @JsonSubTypes.Type(value = NetworkRequest.NicStats.class, name = "nic.stats"),
        @JsonSubTypes.Type(value = NetworkRequest.NicDelete.class, name = "nic.delete"),
        @JsonSubTypes.Type(value = NetworkRequest.UplinkAttach.class, name = "uplink.attach"),
        @JsonSubTypes.Type(value = NetworkRequest.Show.class, name = "network.show"),
})
public sealed interface NetworkRequest {
    /** {@code qt card vpc create NAME --cidr CIDR [--tenant T]}. */
    record VpcCreate(String name, String cidr, String tenant) implements NetworkRequest {}

    /** {@code qt card subnet create NAME --vpc VPC --cidr CIDR [--dns IP]}. */
    record SubnetCreate(String name, String vpc, String cidr, String dns) implements NetworkRequest {}

    /** {@code qt card sg create NAME}. */
    record SgCreate(String name) implements NetworkRequest {}

    /** {@code qt card sg rule add SG --proto P [--ports A-B] --from CIDR}. */
    record SgRuleAdd(String group, String proto, String ports, String from) implements NetworkRequest {}

    /** {@code qt card sg rule remove SG --proto P [--ports A-B] --from CIDR}. */
    record SgRuleRemove(String group, String proto, String ports, String from) implements NetworkRequest {}

    /** {@code qt card nic create NAME --subnet S [--ip IP] [--mac MAC] [--sg SG]... [--instance ID] [--max-bps N] [--max-pps N]}. */
    record NicCreate(String name, String subnet, String ip, String mac, List<String> securityGroups,
                     String instance, long maxBitsPerSecond, long maxPacketsPerSecond) implements NetworkRequest {
        public NicCreate {
            securityGroups = securityGroups == null ? List.of() : List.copyOf(securityGroups);
        }
    }

    /** {@code qt card nic limit NAME [--max-bps N] [--max-pps N]} (0 = unlimited). */
    record NicLimit(String name, long maxBitsPerSecond, long maxPacketsPerSecond) implements NetworkRequest {}

    /** {@code qt card nic export NAME --vhost-user SOCKET_PATH}. */
    record NicExport(String name, String vhostUserSocket) implements NetworkRequest {}

    /**
     * {@code qt card nic unexport NAME [--force]}: stops the NIC's vhost-user export (its socket
     * file goes) and forgets it, so a later export may name another path. Refused while a
     * front-end is connected unless {@code force} (which disconnects it).
     */
    record NicUnexport(String name, boolean force) implements NetworkRequest {}

    /** {@code qt card nic stats NAME}. */
    record NicStats(String name) implements NetworkRequest {}

    /**
     * {@code qt card nic delete NAME [--force]}: refused while a front-end is connected to the
     * NIC's vhost-user export or the card's instances name it; {@code force} disconnects a
     * front-end (never an instance's claim).
     */
    record NicDelete(String name, boolean force) implements NetworkRequest {}

    /** {@code qt card uplink attach VPC --tap IFNAME}. */
    record UplinkAttach(String vpc, String tap) implements NetworkRequest {}

    /** The whole network configuration (for {@code qt card network show}). */
    record Show() implements NetworkRequest {}
}
