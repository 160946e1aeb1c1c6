package io.qingtian.card.api;

import io.qingtian.card.api.ApiRequests.AddRule;
import io.qingtian.card.api.ApiRequests.Attest;
import io.qingtian.card.api.ApiRequests.CreateInstance;
import io.qingtian.card.api.ApiRequests.CreateNic;
import io.qingtian.card.api.ApiRequests.CreateSecurityGroup;
import io.qingtian.card.api.ApiRequests.CreateSubnet;
import io.qingtian.card.api.ApiRequests.CreateTenant;
import io.qingtian.card.api.ApiRequests.CreateSnapshot;
import io.qingtian.card.api.ApiRequests.CreateVolume;
import io.qingtian.card.api.ApiRequests.CreateVpc;
import io.qingtian.card.api.ApiRequests.Restore;
import io.qingtian.card.instance.HypervisorFailure;
import io.qingtian.card.instance.InstanceManager;
import io.qingtian.card.instance.InstanceSpec;
import io.qingtian.card.instance.InstanceView;
import io.qingtian.card.instance.RestartPolicy;
import io.qingtian.card.tenant.Principal;
import io.qingtian.card.tenant.Tenant;
import io.qingtian.card.tenant.TenantStore;
import io.qingtian.card.volume.Sizes;
import io.qingtian.card.volume.VolumeInfo;
import io.qingtian.card.volume.VolumeManager;
import io.qingtian.card.volume.VolumeMeta;
import io.qingtian.network.service.NetworkReply;
import io.qingtian.network.service.NetworkRequest;
import io.qingtian.network.service.NetworkService;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The control API's operations, independent of HTTP: each takes the caller and a path/body
 * and returns a JSON-able value or throws {@link ApiException}.
 *
 * <p>Tenancy: every resource has an internal name {@code TENANT_ID.NAME} in the card's volume,
 * network and instance namespaces; a tenant only ever names its own ({@link #own}), so another
 * tenant's resource of the same name is simply not found (404). The admin (operator) token
 * manages tenants and tokens only and has no resources of its own.
 */
public final class ApiService {
    private final TenantStore tenants;
    private final VolumeManager volumes;
    private final NetworkService network;
    private final InstanceManager instances;
    private final Path images;

    public ApiService(TenantStore tenants, VolumeManager volumes, NetworkService network, InstanceManager instances,
            Path images) {
        this.tenants = tenants;
        this.volumes = volumes;
        this.network = network;
        this.instances = instances;
        this.images = images;
    }

    public Path images() {
        return images;
    }

    static String own(Principal p, String name) {
        return p.tenantId() + "." + name;
    }

    static String shortName(String internal) {
        return internal.substring(internal.indexOf('.') + 1);
    }

    static boolean mine(Principal p, String internal) {
        return internal != null && internal.startsWith(p.tenantId() + ".");
    }

    // ---- admin ----

    public Object whoami(Principal p) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("token", p.tokenId());
        m.put("tenant", p.tenantId());
        m.put("admin", p.admin());
        return m;
    }

    public Object createTenant(CreateTenant r) throws IOException {
        String name = Validate.name("name", r.name());
        Tenant t;
        try {
            t = tenants.createTenant(name);
        } catch (IllegalArgumentException e) {
            throw new ApiException(409, e.getMessage());
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tenant", t);
        m.put("token", tenants.issue(t.id()));
        return m;
    }

    public Object listTenants() {
        return tenants.tenants();
    }

    public Object issueToken(String tenantId) throws IOException {
        if (tenants.tenant(tenantId).isEmpty()) {
            throw ApiException.notFound("tenant", tenantId);
        }
        return Map.of("token", tenants.issue(tenantId));
    }

    // ---- tokens of the caller's tenant ----

    public Object myTokens(Principal p) {
        return tenants.tokensOf(p.tenantId()).stream().map(t -> Map.of("id", t.id(), "createdAt", t.createdAt())).toList();
    }

    public Object newToken(Principal p) throws IOException {
        return Map.of("token", tenants.issue(p.tenantId()));
    }

    public Object revokeToken(Principal p, String id) throws IOException {
        if (!tenants.revoke(id, p.tenantId())) {
            throw ApiException.notFound("token", id);
        }
        return Map.of("revoked", id);
    }

    // ---- volumes ----

    public Object listVolumes(Principal p) throws IOException {
        return volumes.list().stream().filter(v -> mine(p, v.name())).map(ApiService::volumeView).toList();
    }

    public Object getVolume(Principal p, String name) throws IOException {
        return volumeView(volume(p, name));
    }

    private VolumeInfo volume(Principal p, String name) throws IOException {
        String internal = own(p, name);
        return volumes.list().stream().filter(v -> v.name().equals(internal)).findFirst()
                .orElseThrow(() -> ApiException.notFound("volume", name));
    }

    private static Map<String, Object> volumeView(VolumeInfo v) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", shortName(v.name()));
        m.put("sizeBytes", v.sizeBytes());
        m.put("encrypted", v.encrypted());
        m.put("iops", v.iops());
        m.put("bandwidth", v.bandwidth());
        m.put("attached", v.exportedAt() != null);
        return m;
    }

    public Object createVolume(Principal p, CreateVolume r) throws IOException {
        String name = Validate.name("name", r.name());
        long size;
        try {
            size = Sizes.parse(Validate.required("size", r.size()));
        } catch (io.qingtian.sys.UserError e) {
            throw ApiException.badRequest("size: " + e.getMessage());
        }
        Validate.range("size", size, 1 << 20, 16L << 40);
        VolumeMeta.Qos qos = null;
        if (r.iops() != null || r.bandwidth() != null) {
            long iops = r.iops() == null ? 0 : Validate.range("iops", r.iops(), 1, 10_000_000);
            long bw = r.bandwidth() == null ? 0 : Validate.range("bandwidth", r.bandwidth(), 4096, 1L << 40);
            qos = new VolumeMeta.Qos(iops, 0, bw, 0);
        }
        if (volumes.list().stream().anyMatch(v -> v.name().equals(own(p, name)))) {
            throw new ApiException(409, "volume " + name + " already exists");
        }
        volumes.create(new VolumeManager.CreateSpec(own(p, name), size, Boolean.TRUE.equals(r.encrypted()), null, null, qos));
        return volumeView(volume(p, name));
    }

    public Object deleteVolume(Principal p, String name) throws IOException {
        VolumeInfo v = volume(p, name);
        for (InstanceView i : instances.list(p.tenantId())) {
            if (i.volumes().contains(name)) {
                throw new ApiException(409, "volume " + name + " is used by instance " + i.name());
            }
        }
        if (v.exportedAt() != null) {
            volumes.unexport(v.name());
        }
        volumes.delete(v.name());
        return Map.of("deleted", name);
    }

    // ---- instances ----

    public Object listInstances(Principal p) {
        return instances.list(p.tenantId());
    }

    public InstanceView getInstance(Principal p, String name) {
        return instances.get(own(p, name)).orElseThrow(() -> ApiException.notFound("instance", name));
    }

    public Object createInstance(Principal p, CreateInstance r) throws IOException {
        String name = Validate.name("name", r.name());
        Path manifest = Validate.image("manifest", images, r.manifest());
        Path kernel = Validate.image("kernel", images, r.kernel());
        Path initramfs = Validate.image("initramfs", images, r.initramfs());
        if (manifest == null && kernel == null) {
            throw ApiException.badRequest("kernel or manifest is required");
        }
        if (manifest != null && (kernel != null || initramfs != null)) {
            throw ApiException.badRequest("manifest names the kernel and initramfs: give one or the other");
        }
        if (r.cmdline() != null && r.cmdline().length() > 2048) {
            throw ApiException.badRequest("cmdline is longer than 2048 bytes");
        }
        int cpus = (int) Validate.range("cpus", r.cpus() == null ? 1 : r.cpus(), 1, 32);
        int mem = (int) Validate.range("memoryMib", r.memoryMib() == null ? 256 : r.memoryMib(), 16, 65536);
        List<String> vols = new ArrayList<>();
        for (String v : r.volumes() == null ? List.<String>of() : r.volumes()) {
            vols.add(volume(p, Validate.name("volumes[]", v)).name());
        }
        NetworkReply.Config net = network.config();
        List<String> nics = new ArrayList<>();
        for (String n : r.nics() == null ? List.<String>of() : r.nics()) {
            String internal = own(p, Validate.name("nics[]", n));
            if (net.nics().stream().noneMatch(x -> x.name().equals(internal))) {
                throw ApiException.notFound("nic", n);
            }
            nics.add(internal);
        }
        RestartPolicy policy = switch (r.restartPolicy() == null ? "never" : r.restartPolicy()) {
            case "never" -> RestartPolicy.NEVER;
            case "on-failure" -> RestartPolicy.ON_FAILURE;
            default -> throw ApiException.badRequest("restartPolicy must be never or on-failure, not '"
                    + Validate.clip(r.restartPolicy()) + "'");
        };
        if (instances.get(own(p, name)).isPresent()) {
            throw new ApiException(409, "instance " + name + " already exists");
        }
        InstanceSpec spec = new InstanceSpec(own(p, name), p.tenantId(), name, str(kernel), str(initramfs),
                r.cmdline(), str(manifest), cpus, mem, vols, nics, policy);
        return lifecycle(() -> instances.create(spec, r.start() == null || r.start()));
    }

    private static String str(Path p) {
        return p == null ? null : p.toString();
    }

    public Object instanceAction(Principal p, String name, String action) throws IOException {
        String id = getInstance(p, name).id();
        return lifecycle(() -> switch (action) {
            case "start" -> instances.start(id);
            case "stop" -> instances.stop(id);
            case "reboot" -> instances.reboot(id);
            case "pause" -> instances.pause(id);
            case "resume" -> instances.resume(id);
            default -> throw ApiException.notFound("action", action);
        });
    }

    /** An operation on an instance's hypervisor. */
    interface Lifecycle<T> {
        T run() throws IOException;
    }

    /**
     * Maps the instance manager's outcomes: a wrong state is 409 and changes nothing; a setup or
     * request the hypervisor refused is 400 with its fault_message (the instance's lastExit keeps
     * it too); a hypervisor that did not come up or answer is 503 (not a card bug, not the
     * caller's mistake).
     */
    static <T> T lifecycle(Lifecycle<T> op) throws IOException {
        try {
            return op.run();
        } catch (IllegalStateException e) {
            throw new ApiException(409, e.getMessage());
        } catch (HypervisorFailure e) {
            throw new ApiException(e.refused() ? 400 : 503, e.getMessage());
        }
    }

    public Object createSnapshot(Principal p, String name, CreateSnapshot r) throws IOException {
        String id = getInstance(p, name).id();
        String snap = Validate.name("name", r.name());
        return lifecycle(() -> instances.snapshot(id, snap));
    }

    public Object listSnapshots(Principal p, String name) throws IOException {
        return instances.snapshots(getInstance(p, name).id());
    }

    public Object deleteSnapshot(Principal p, String name, String snapshot) throws IOException {
        String id = getInstance(p, name).id();
        try {
            instances.deleteSnapshot(id, Validate.name("snapshot", snapshot));
        } catch (java.util.NoSuchElementException e) {
            throw notFound(e, name, snapshot);
        }
        return Map.of("deleted", snapshot);
    }

    public Object restore(Principal p, String name, Restore r) throws IOException {
        String id = getInstance(p, name).id();
        String snap = Validate.name("snapshot", r.snapshot());
        try {
            return lifecycle(() -> instances.restore(id, snap));
        } catch (java.util.NoSuchElementException e) {
            throw notFound(e, name, snap);
        }
    }

    /** The snapshot is missing, or the instance itself went away meanwhile (deleted by another request). */
    private static ApiException notFound(java.util.NoSuchElementException e, String instance, String snapshot) {
        return ("snapshot " + snapshot).equals(e.getMessage()) ? ApiException.notFound("snapshot", snapshot)
                : ApiException.notFound("instance", instance);
    }

    public Object deleteInstance(Principal p, String name) throws IOException {
        instances.delete(getInstance(p, name).id());
        return Map.of("deleted", name);
    }

    public byte[] console(Principal p, String name, int max) throws IOException {
        return instances.consoleTail(getInstance(p, name).id(), max);
    }

    public Object attest(Principal p, String name, Attest r) {
        String id = getInstance(p, name).id();
        byte[] nonce = decode("nonce", Validate.required("nonce", r.nonce()), s -> HexFormat.of().parseHex(s));
        if (nonce.length == 0) {
            throw ApiException.badRequest("nonce must not be empty");
        }
        byte[] user = r.userData() == null ? null : decode("userData", r.userData(), Base64.getDecoder()::decode);
        byte[] key = r.publicKey() == null ? null : decode("publicKey", r.publicKey(), Base64.getDecoder()::decode);
        for (byte[] b : new byte[][] {nonce, user, key}) {
            if (b != null && b.length > 1024) {
                throw ApiException.badRequest("nonce, userData and publicKey are at most 1024 bytes each");
            }
        }
        try {
            return Map.of("document", Base64.getEncoder().encodeToString(instances.attest(id, nonce, user, key)),
                    "format", "COSE_Sign1 (card/CONTROL.md, trust/README.md)");
        } catch (IllegalStateException e) {
            throw new ApiException(409, e.getMessage());
        } catch (io.qingtian.trust.TrustException e) {
            throw ApiException.badRequest(e.getMessage());
        }
    }

    private static byte[] decode(String field, String s, Function<String, byte[]> f) {
        try {
            return f.apply(s);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(field + " is not valid " + (field.equals("nonce") ? "hex" : "base64"));
        }
    }

    // ---- network ----

    public Object listVpcs(Principal p) {
        return network.config().vpcs().stream().filter(v -> mine(p, v.name()))
                .map(v -> Map.of("name", shortName(v.name()), "cidr", v.cidr())).toList();
    }

    public Object createVpc(Principal p, CreateVpc r) {
        String name = Validate.name("name", r.name());
        NetworkReply.VpcInfo v = network.createVpc(new NetworkRequest.VpcCreate(own(p, name),
                Validate.required("cidr", r.cidr()), p.tenantId()));
        return Map.of("name", name, "cidr", v.cidr());
    }

    public Object listSubnets(Principal p) {
        return network.config().subnets().stream().filter(s -> mine(p, s.name())).map(ApiService::subnetView).toList();
    }

    private static Map<String, Object> subnetView(NetworkReply.SubnetInfo s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", shortName(s.name()));
        m.put("vpc", shortName(s.vpc()));
        m.put("cidr", s.cidr());
        m.put("gateway", s.gateway());
        return m;
    }

    public Object createSubnet(Principal p, CreateSubnet r) {
        String name = Validate.name("name", r.name());
        String vpc = own(p, Validate.name("vpc", r.vpc()));
        if (network.config().vpcs().stream().noneMatch(v -> v.name().equals(vpc))) {
            throw ApiException.notFound("vpc", r.vpc());
        }
        return subnetView(network.createSubnet(new NetworkRequest.SubnetCreate(own(p, name), vpc,
                Validate.required("cidr", r.cidr()), r.dns())));
    }

    public Object listSecurityGroups(Principal p) {
        return network.config().securityGroups().stream().filter(s -> mine(p, s.name()))
                .map(s -> Map.of("name", shortName(s.name()), "rules", s.rules())).toList();
    }

    public Object createSecurityGroup(Principal p, CreateSecurityGroup r) {
        String name = Validate.name("name", r.name());
        NetworkReply.SgInfo s = network.createSecurityGroup(new NetworkRequest.SgCreate(own(p, name)));
        return Map.of("name", name, "rules", s.rules());
    }

    public Object addRule(Principal p, String group, AddRule r) {
        String sg = own(p, group);
        if (network.config().securityGroups().stream().noneMatch(s -> s.name().equals(sg))) {
            throw ApiException.notFound("security group", group);
        }
        NetworkReply.SgInfo s = network.addRule(new NetworkRequest.SgRuleAdd(sg, Validate.required("proto", r.proto()),
                r.ports(), Validate.required("from", r.from())));
        return Map.of("name", group, "rules", s.rules());
    }

    public Object listNics(Principal p) {
        return network.config().nics().stream().filter(n -> mine(p, n.name())).map(this::nicView).toList();
    }

    /** {@code attached}: a VM (hypervisor front-end) is connected to the NIC's vhost-user export now. */
    private Map<String, Object> nicView(NetworkReply.NicInfo n) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", shortName(n.name()));
        m.put("subnet", shortName(n.subnet()));
        m.put("ip", n.ip());
        m.put("mac", n.mac());
        m.put("securityGroups", n.securityGroups().stream().map(ApiService::shortName).toList());
        var export = network.exportState(n.name());
        m.put("attached", export != null && export.connected());
        return m;
    }

    public Object createNic(Principal p, CreateNic r) {
        String name = Validate.name("name", r.name());
        NetworkReply.Config c = network.config();
        String subnet = own(p, Validate.name("subnet", r.subnet()));
        if (c.subnets().stream().noneMatch(s -> s.name().equals(subnet))) {
            throw ApiException.notFound("subnet", r.subnet());
        }
        List<String> sgs = new ArrayList<>();
        for (String g : r.securityGroups() == null ? List.<String>of() : r.securityGroups()) {
            String sg = own(p, Validate.name("securityGroups[]", g));
            if (c.securityGroups().stream().noneMatch(s -> s.name().equals(sg))) {
                throw ApiException.notFound("security group", g);
            }
            sgs.add(sg);
        }
        long bps = r.maxBitsPerSecond() == null ? 0 : Validate.range("maxBitsPerSecond", r.maxBitsPerSecond(), 0, 100_000_000_000L);
        long pps = r.maxPacketsPerSecond() == null ? 0 : Validate.range("maxPacketsPerSecond", r.maxPacketsPerSecond(), 0, 100_000_000L);
        return nicView(network.createNic(new NetworkRequest.NicCreate(own(p, name), subnet, r.ip(), r.mac(), sgs,
                null, bps, pps)));
    }

    /**
     * DELETE /nics/NAME: 409 while an instance names it or a VM is connected to it (detach
     * first, as with a cloud's network interfaces); then it is gone with its address.
     */
    public Object deleteNic(Principal p, String name) {
        String nic = own(p, Validate.name("name", name));
        if (network.config().nics().stream().noneMatch(n -> n.name().equals(nic))) {
            throw ApiException.notFound("nic", name);
        }
        for (InstanceView i : instances.list(p.tenantId())) {
            if (i.nics().contains(name)) {
                throw new ApiException(409, "nic " + name + " is used by instance " + i.name());
            }
        }
        try {
            network.deleteNic(new NetworkRequest.NicDelete(nic, false));
        } catch (io.qingtian.network.NetworkException e) {
            throw new ApiException(409, e.getMessage().replace(nic, name));
        }
        return Map.of("deleted", name);
    }
}
