package io.qingtian.network.service;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.qingtian.network.NetworkException;
import io.qingtian.network.packet.Cidr;
import io.qingtian.network.packet.Ipv4Address;
import io.qingtian.network.packet.MacAddress;
import io.qingtian.network.service.NetworkReply.Config;
import io.qingtian.network.service.NetworkReply.ExportInfo;
import io.qingtian.network.service.NetworkReply.NicInfo;
import io.qingtian.network.service.NetworkReply.NicStatsInfo;
import io.qingtian.network.service.NetworkReply.SgInfo;
import io.qingtian.network.service.NetworkReply.SubnetInfo;
import io.qingtian.network.service.NetworkReply.UplinkInfo;
import io.qingtian.network.service.NetworkReply.VpcInfo;
import io.qingtian.network.service.NetworkReply.NicDeleted;
import io.qingtian.network.service.NetworkRequest.NicCreate;
import io.qingtian.network.service.NetworkRequest.NicDelete;
import io.qingtian.network.service.NetworkRequest.NicExport;
import io.qingtian.network.service.NetworkRequest.NicUnexport;
import io.qingtian.network.service.NetworkReply.NicUnexported;
import io.qingtian.network.service.NetworkRequest.NicLimit;
import io.qingtian.network.service.NetworkRequest.NicStats;
import io.qingtian.network.service.NetworkRequest.SgCreate;
import io.qingtian.network.service.NetworkRequest.SgRuleAdd;
import io.qingtian.network.service.NetworkRequest.SgRuleRemove;
import io.qingtian.network.service.NetworkRequest.Show;
import io.qingtian.network.service.NetworkRequest.SubnetCreate;
import io.qingtian.network.service.NetworkRequest.UplinkAttach;
import io.qingtian.network.service.NetworkRequest.VpcCreate;
import io.qingtian.network.vswitch.Port;
import io.qingtian.network.vswitch.PortStats;
import io.qingtian.network.vswitch.RateLimit;
import io.qingtian.network.vswitch.SecurityGroup;
import io.qingtian.network.vswitch.SecurityRule;
import io.qingtian.network.vswitch.Subnet;
import io.qingtian.network.vswitch.VirtualSwitch;
import io.qingtian.network.vswitch.Vpc;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * The card's network service: one {@link VirtualSwitch} plus its configuration, persisted
 * in {@code STATE_DIR/network.json} after every change and replayed at start, and the
 * backends (vhost-user-net exports, TAP uplinks) attached to it.
 *
 * <p>Each public method is one {@code qt card ...} command: records in, a record out,
 * {@link NetworkException} (one line) for anything refused. {@link #handle} dispatches a
 * {@link NetworkRequest} to them, which is all the card's control socket needs.
 */
public final class NetworkService implements AutoCloseable {
    public static final String STATE_FILE = "network.json";
    static final ObjectMapper JSON = new ObjectMapper()
            .enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final VirtualSwitch sw;
    private final Path stateFile;
    private final Path stateDir;
    private final NetworkBackends backends;
    private final Map<String, String> tapOfVpc = new LinkedHashMap<>();
    private final Map<String, String> exportOfNic = new LinkedHashMap<>();
    private final Map<String, AutoCloseable> running = new LinkedHashMap<>();
    private final List<String> warnings = new ArrayList<>();
    private Function<String, String> nicHolder = nic -> null;

    /**
     * Opens the service on {@code stateDir} (null = nothing persisted), replaying the saved
     * configuration; exports and uplinks that cannot be restored become {@link #warnings()}.
     */
    public NetworkService(Path stateDir, NetworkBackends backends) {
        this(stateDir, backends, new VirtualSwitch());
    }

    public NetworkService(Path stateDir, NetworkBackends backends, VirtualSwitch sw) {
        this.sw = sw;
        this.backends = backends;
        this.stateDir = stateDir == null ? null : stateDir.toAbsolutePath().normalize();
        this.stateFile = this.stateDir == null ? null : this.stateDir.resolve(STATE_FILE);
        if (stateFile != null && Files.exists(stateFile)) {
            restore();
        }
    }

    public VirtualSwitch vswitch() {
        return sw;
    }

    /** Problems met while restoring backends at start (the configuration itself is intact). */
    public synchronized List<String> warnings() {
        return List.copyOf(warnings);
    }

    /** Dispatches one control request; the card's control socket calls this. */
    public NetworkReply handle(NetworkRequest r) {
        return switch (r) {
            case VpcCreate q -> createVpc(q);
            case SubnetCreate q -> createSubnet(q);
            case SgCreate q -> createSecurityGroup(q);
            case SgRuleAdd q -> addRule(q);
            case SgRuleRemove q -> removeRule(q);
            case NicCreate q -> createNic(q);
            case NicLimit q -> limitNic(q);
            case NicExport q -> exportNic(q);
            case NicUnexport q -> unexportNic(q);
            case NicStats q -> nicStats(q);
            case NicDelete q -> deleteNic(q);
            case UplinkAttach q -> attachUplink(q);
            case Show q -> config();
        };
    }

    public synchronized VpcInfo createVpc(VpcCreate q) {
        Vpc v = sw.createVpc(q.name(), cidr(q.cidr()), q.tenant());
        save();
        return vpcInfo(v);
    }

    public synchronized SubnetInfo createSubnet(SubnetCreate q) {
        Subnet s = sw.createSubnet(q.name(), q.vpc(), cidr(q.cidr()), null, q.dns() == null ? null : ip(q.dns()));
        save();
        return subnetInfo(s);
    }

    public synchronized SgInfo createSecurityGroup(SgCreate q) {
        SecurityGroup g = sw.createSecurityGroup(q.name());
        save();
        return sgInfo(g);
    }

    public synchronized SgInfo addRule(SgRuleAdd q) {
        sw.addRule(q.group(), rule(q.proto(), q.ports(), q.from()));
        save();
        return sgInfo(sw.securityGroup(q.group()));
    }

    public synchronized SgInfo removeRule(SgRuleRemove q) {
        sw.removeRule(q.group(), rule(q.proto(), q.ports(), q.from()));
        save();
        return sgInfo(sw.securityGroup(q.group()));
    }

    public synchronized NicInfo createNic(NicCreate q) {
        RateLimit limit = limit(q.maxBitsPerSecond(), q.maxPacketsPerSecond());
        Port p = sw.createPort(q.name(), q.subnet(), q.ip() == null ? null : ip(q.ip()),
                q.mac() == null ? null : mac(q.mac()), q.securityGroups(), q.instance());
        sw.setRateLimit(p.name(), limit);
        save();
        return nicInfo(p);
    }

    public synchronized NicInfo limitNic(NicLimit q) {
        sw.setRateLimit(q.name(), limit(q.maxBitsPerSecond(), q.maxPacketsPerSecond()));
        save();
        return nicInfo(sw.port(q.name()));
    }

    /**
     * Serves the NIC on a vhost-user socket and records the export. A NIC whose recorded export
     * is serving is refused (unexport it first); one whose recorded export is not serving (it
     * could not be brought back at start: its directory is gone, the state directory moved) is
     * exported at the requested path, which replaces the dead record.
     */
    public synchronized ExportInfo exportNic(NicExport q) {
        Port p = sw.port(required(q.name(), "NIC name"));
        Path sock = Path.of(required(q.vhostUserSocket(), "--vhost-user")).toAbsolutePath().normalize();
        String recorded = exportOfNic.get(p.name());
        if (recorded != null && running.containsKey("nic:" + p.name())) {
            throw new NetworkException("NIC " + p.name() + " is already exported at " + recorded
                    + " (nic unexport first to move it)");
        }
        startExport(p, sock);
        exportOfNic.put(p.name(), sock.toString());
        save();
        return new ExportInfo(p.name(), sock.toString());
    }

    /**
     * Stops a NIC's export (its socket file is removed) and forgets it; the NIC, its address
     * and counters stay. Refused while a front-end is connected unless {@code force}.
     */
    public synchronized NicUnexported unexportNic(NicUnexport q) {
        Port p = sw.port(required(q.name(), "NIC name"));
        String sock = exportOfNic.get(p.name());
        if (sock == null) {
            throw new NetworkException("NIC " + p.name() + " is not exported");
        }
        AutoCloseable export = running.get("nic:" + p.name());
        boolean connected = p.linkUp() || export instanceof NetworkBackends.Export x && x.connected();
        if (connected && !q.force()) {
            throw new NetworkException("NIC " + p.name() + " is in use: a front-end is connected to " + sock
                    + "; stop its VM first (or --force to disconnect it)");
        }
        running.remove("nic:" + p.name());
        exportOfNic.remove(p.name());
        if (export != null) {
            try {
                export.close();
            } catch (Exception e) {
                warnings.add("NIC " + p.name() + ": stopping its export: " + oneLine(e));
            }
        }
        save();
        return new NicUnexported(p.name(), sock, export != null);
    }

    /** The NIC's recorded export and whether it is serving; null if it has none. */
    public synchronized NicExportState exportState(String nic) {
        String sock = exportOfNic.get(nic);
        if (sock == null) {
            return null;
        }
        AutoCloseable export = running.get("nic:" + nic);
        Port p = sw.ports().stream().filter(x -> x.name().equals(nic)).findFirst().orElse(null);
        boolean connected = export instanceof NetworkBackends.Export x && x.connected() || p != null && p.linkUp();
        return new NicExportState(Path.of(sock), export != null, connected);
    }

    public synchronized NicStatsInfo nicStats(NicStats q) {
        Port p = sw.port(q.name());
        PortStats s = sw.stats(q.name());
        Map<String, Long> drops = new TreeMap<>();
        s.drops().forEach((k, v) -> drops.put(k.name().toLowerCase(java.util.Locale.ROOT), v));
        return new NicStatsInfo(p.name(), p.linkUp(), s.rxPackets(), s.rxBytes(), s.txPackets(), s.txBytes(), drops,
                sw.shaperStalledNanos(p.name()) / 1_000_000);
    }

    /**
     * Who else holds NICs: given a NIC's name, a description of its holder ("instance web1")
     * or null. The card installs one over its instances so that a NIC an instance names is
     * not deleted from under it (the instance would fail at its next start).
     */
    public synchronized void setNicHolder(Function<String, String> holder) {
        this.nicHolder = holder == null ? nic -> null : holder;
    }

    /**
     * Deletes a NIC, as a cloud user expects of deleting a network interface: refused while it
     * is attached — named by an instance, or a front-end (a VM) connected to its vhost-user
     * socket; {@code force} disconnects the front-end, not an instance. Then the export stops
     * (socket removed), the port leaves the switch (its address and MAC are free for a new NIC;
     * DHCP answers nobody for it; the VPC's tracked flows with its address are forgotten), its
     * counters are gone, and the configuration is saved without it.
     */
    public synchronized NicDeleted deleteNic(NicDelete q) {
        Port p = sw.port(required(q.name(), "NIC name"));
        String holder = nicHolder.apply(p.name());
        if (holder != null) {
            throw new NetworkException("NIC " + p.name() + " is in use by " + holder + "; delete the " + holder
                    + " first");
        }
        String sock = exportOfNic.get(p.name());
        boolean connected = p.linkUp()
                || running.get("nic:" + p.name()) instanceof NetworkBackends.Export x && x.connected();
        if (connected && !q.force()) {
            throw new NetworkException("NIC " + p.name() + " is in use: a front-end is connected"
                    + (sock == null ? "" : " to " + sock) + "; stop its VM first (or --force to disconnect it)");
        }
        // The export first: its front-end's teardown (link down) finishes before the port,
        // and then the name, can go to a new NIC.
        AutoCloseable export = running.remove("nic:" + p.name());
        exportOfNic.remove(p.name());
        if (export != null) {
            try {
                export.close();
            } catch (Exception e) {
                warnings.add("NIC " + p.name() + ": stopping its export: " + oneLine(e));
            }
        }
        sw.deletePort(p.name());
        save();
        return new NicDeleted(p.name(), p.ip().toString(), sock);
    }

    public synchronized UplinkInfo attachUplink(UplinkAttach q) {
        Vpc v = sw.vpc(q.vpc());
        if (v.uplink() != null) {
            throw new NetworkException("VPC " + q.vpc() + " already has uplink " + v.uplink().name());
        }
        startUplink(q.vpc(), q.tap());
        tapOfVpc.put(q.vpc(), q.tap());
        save();
        return new UplinkInfo(q.vpc(), q.tap(), sw.vpc(q.vpc()).uplink().mac().toString());
    }

    public synchronized Config config() {
        List<VpcInfo> vpcs = new ArrayList<>();
        List<SubnetInfo> subnets = new ArrayList<>();
        for (Vpc v : sw.vpcs()) {
            vpcs.add(vpcInfo(v));
            v.subnets().forEach(s -> subnets.add(subnetInfo(s)));
        }
        List<SgInfo> sgs = sw.securityGroups().stream().map(NetworkService::sgInfo).toList();
        List<NicInfo> nics = sw.ports().stream().map(NetworkService::nicInfo).toList();
        List<UplinkInfo> uplinks = new ArrayList<>();
        tapOfVpc.forEach((vpc, tap) -> {
            var u = sw.vpc(vpc).uplink();
            uplinks.add(new UplinkInfo(vpc, tap, u == null ? "" : u.mac().toString()));
        });
        List<ExportInfo> exports = new ArrayList<>();
        exportOfNic.forEach((nic, sock) -> exports.add(new ExportInfo(nic, sock)));
        return new Config(vpcs, subnets, sgs, nics, uplinks, exports);
    }

    @Override
    public synchronized void close() {
        for (AutoCloseable c : running.values()) {
            try {
                c.close();
            } catch (Exception e) {
                warnings.add("closing: " + e.getMessage());
            }
        }
        running.clear();
    }

    // ---------------------------------------------------------------- internals

    private void startExport(Port p, Path sock) {
        try {
            running.put("nic:" + p.name(), backends.exportVhostUser(sw, p, sock));
        } catch (NetworkException e) {
            throw e;
        } catch (Exception e) {
            throw new NetworkException("cannot export NIC " + p.name() + " at " + sock + ": " + oneLine(e));
        }
    }

    private void startUplink(String vpc, String tap) {
        try {
            running.put("uplink:" + vpc, backends.attachTap(sw, vpc, tap));
        } catch (NetworkException e) {
            throw e;
        } catch (Exception e) {
            throw new NetworkException("cannot attach TAP " + tap + " to VPC " + vpc + ": " + oneLine(e));
        }
    }

    private static String oneLine(Exception e) {
        String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        int nl = m.indexOf('\n');
        return nl < 0 ? m : m.substring(0, nl);
    }

    private void restore() {
        Config c;
        try {
            c = JSON.readValue(stateFile.toFile(), Config.class);
        } catch (IOException e) {
            throw new NetworkException("cannot read " + stateFile + ": " + oneLine(e));
        }
        for (VpcInfo v : c.vpcs()) {
            sw.createVpc(v.name(), cidr(v.cidr()), v.tenant());
        }
        for (SubnetInfo s : c.subnets()) {
            sw.createSubnet(s.name(), s.vpc(), cidr(s.cidr()), mac(s.gatewayMac()), s.dns() == null ? null : ip(s.dns()));
        }
        for (SgInfo g : c.securityGroups()) {
            sw.createSecurityGroup(g.name());
            for (String r : g.rules()) {
                sw.addRule(g.name(), SecurityRule.parse(r));
            }
        }
        for (NicInfo n : c.nics()) {
            sw.createPort(n.name(), n.subnet(), ip(n.ip()), mac(n.mac()), n.securityGroups(), n.instance());
            sw.setRateLimit(n.name(), limit(n.maxBitsPerSecond(), n.maxPacketsPerSecond()));
        }
        for (UplinkInfo u : c.uplinks()) {
            tapOfVpc.put(u.vpc(), u.tap());
            try {
                startUplink(u.vpc(), u.tap());
            } catch (NetworkException e) {
                warnings.add(e.getMessage());
            }
        }
        for (ExportInfo x : c.exports()) {
            // A socket inside the state directory is recorded relative to it (see save), so the
            // export comes back under the directory wherever it is now.
            Path sock = stateDir.resolve(x.vhostUserSocket()).normalize();
            exportOfNic.put(x.name(), sock.toString());
            try {
                startExport(sw.port(x.name()), sock);
            } catch (NetworkException e) {
                warnings.add(e.getMessage());
            }
        }
    }

    /** Writes the configuration atomically: temp file, fsync, rename. */
    private void save() {
        if (stateFile == null) {
            return;
        }
        try {
            Files.createDirectories(stateFile.getParent());
            Path tmp = stateFile.resolveSibling(STATE_FILE + ".tmp");
            Files.write(tmp, JSON.writeValueAsBytes(persisted(config())));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            Files.move(tmp, stateFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save " + stateFile, e);
        }
    }

    /**
     * The configuration as saved: export sockets inside the state directory relative to it.
     * The card exports an instance's NICs into {@code STATE/instances/ID/}; a state directory
     * that moved (a new card on the same state, a restored backup) then brings them back at
     * the same place inside it, instead of at a dead path in the old directory.
     */
    private Config persisted(Config c) {
        List<ExportInfo> exports = c.exports().stream().map(x -> {
            Path sock = Path.of(x.vhostUserSocket());
            return sock.startsWith(stateDir) ? new ExportInfo(x.name(), stateDir.relativize(sock).toString()) : x;
        }).toList();
        return new Config(c.vpcs(), c.subnets(), c.securityGroups(), c.nics(), c.uplinks(), exports);
    }

    private static VpcInfo vpcInfo(Vpc v) {
        return new VpcInfo(v.name(), v.cidr().toString(), v.tenant());
    }

    private static SubnetInfo subnetInfo(Subnet s) {
        return new SubnetInfo(s.name(), s.vpc().name(), s.cidr().toString(), s.gateway().toString(),
                s.gatewayMac().toString(), s.dns() == null ? null : s.dns().toString());
    }

    private static SgInfo sgInfo(SecurityGroup g) {
        return new SgInfo(g.name(), g.rules().stream().map(SecurityRule::toString).toList());
    }

    private static NicInfo nicInfo(Port p) {
        return new NicInfo(p.name(), p.subnet().name(), p.subnet().vpc().name(), p.ip().toString(), p.mac().toString(),
                p.securityGroups(), p.instanceId(), p.rateLimit().bitsPerSecond(), p.rateLimit().packetsPerSecond());
    }

    private static Cidr cidr(String s) {
        try {
            return Cidr.parse(required(s, "CIDR"));
        } catch (IllegalArgumentException e) {
            throw new NetworkException(e.getMessage());
        }
    }

    private static Ipv4Address ip(String s) {
        try {
            return Ipv4Address.parse(s);
        } catch (IllegalArgumentException e) {
            throw new NetworkException(e.getMessage());
        }
    }

    private static MacAddress mac(String s) {
        try {
            return MacAddress.parse(s);
        } catch (IllegalArgumentException e) {
            throw new NetworkException(e.getMessage());
        }
    }

    private static SecurityRule rule(String proto, String ports, String from) {
        try {
            return SecurityRule.of(required(proto, "--proto"), ports, required(from, "--from"));
        } catch (IllegalArgumentException e) {
            throw new NetworkException(e.getMessage());
        }
    }

    private static RateLimit limit(long bps, long pps) {
        try {
            return new RateLimit(bps, pps);
        } catch (IllegalArgumentException e) {
            throw new NetworkException(e.getMessage());
        }
    }

    private static String required(String s, String what) {
        if (s == null || s.isBlank()) {
            throw new NetworkException(what + " is required");
        }
        return s;
    }
}
