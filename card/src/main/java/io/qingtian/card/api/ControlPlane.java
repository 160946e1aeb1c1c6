package io.qingtian.card.api;

import io.qingtian.card.audit.AuditLog;
import io.qingtian.card.instance.Confinement;
import io.qingtian.card.instance.HypervisorLauncher;
import io.qingtian.card.instance.InstanceManager;
import io.qingtian.card.tenant.TenantStore;
import io.qingtian.card.volume.VolumeManager;
import io.qingtian.network.service.NetworkService;
import io.qingtian.network.service.NetworkWire;
import io.qingtian.network.vhostuser.CardNetworkBackends;
import io.qingtian.sys.UserError;
import io.qingtian.trust.CardTrust;
import io.qingtian.trust.TrustException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The card's services around its volumes, hosted by the daemon: the network service (vswitch,
 * vhost-user-net, uplinks), trust (secure boot, measured launches, attestation), tenants and
 * tokens, the instance manager, the HTTP control API and its audit log.
 *
 * <pre>
 * STATE/network.json          network configuration (network module)
 * STATE/keys/, measurements/  trust module
 * STATE/images/               kernels, initramfs, manifests the API may name (operator-provided)
 * STATE/instances/ID/         instance.json, console.log, verified image copies, vhost-user sockets
 * STATE/control/              tenants.json, admin.token, audit.log (all 0600)
 * STATE/api.sock              control API over a Unix socket (0600)
 * </pre>
 */
public final class ControlPlane implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(ControlPlane.class.getName());
    private static final Set<String> NETWORK_OPS = Set.of("vpc.create", "subnet.create", "sg.create", "sg.rule.add",
            "sg.rule.remove", "nic.create", "nic.limit", "nic.export", "nic.unexport", "nic.stats", "nic.delete", "uplink.attach",
            "network.show");

    /**
     * @param trust trust anchors for secure boot (a .pub file or directory), or null
     * @param apiPort TCP port of the control API (0 = any free port), or -1 for no HTTP API
     */
    public record Options(Path trust, char[] passphrase, String apiHost, int apiPort, HypervisorLauncher launcher,
            int uidBase, boolean tcpOptional) {
        public Options(Path trust, char[] passphrase, String apiHost, int apiPort, HypervisorLauncher launcher, int uidBase) {
            this(trust, passphrase, apiHost, apiPort, launcher, uidBase, false);
        }

        public static Options defaults() {
            return new Options(null, null, "127.0.0.1", -1, HypervisorLauncher.sameJvm(), Confinement.DEFAULT_UID_BASE);
        }
    }

    private final NetworkService network;
    private final CardTrust trust;
    private final TenantStore tenants;
    private final InstanceManager instances;
    private final AuditLog audit;
    private final ApiServer api;

    private ControlPlane(NetworkService network, CardTrust trust, TenantStore tenants, InstanceManager instances,
            AuditLog audit, ApiServer api) {
        this.network = network;
        this.trust = trust;
        this.tenants = tenants;
        this.instances = instances;
        this.audit = audit;
        this.api = api;
    }

    public static ControlPlane start(Path state, VolumeManager volumes, Options o) throws IOException {
        NetworkService net = new NetworkService(state, new CardNetworkBackends());
        net.warnings().forEach(w -> LOG.warning("network: " + w));
        InstanceManager im = null;
        AuditLog audit = null;
        try {
            CardTrust trust;
            try {
                trust = CardTrust.open(state, o.trust(), o.passphrase());
            } catch (TrustException e) {
                throw new UserError(e.getMessage());
            }
            TenantStore tenants = new TenantStore(state.resolve("control"));
            Files.createDirectories(state.resolve("images"));
            Confinement conf = Confinement.detect(o.uidBase());
            if (!conf.enabled()) {
                LOG.warning("not running as root: hypervisors run unconfined (no uid switch, no cgroup, no mount namespace)");
            }
            im = new InstanceManager(state.resolve("instances"), o.launcher(), conf, volumes, net, trust);
            InstanceManager instancesForNics = im;
            // A NIC an instance names is not deleted from under it (API and control socket alike).
            net.setNicHolder(nic -> instancesForNics.list(null).stream()
                    .filter(i -> i.nics().stream().anyMatch(n -> nic.equals(i.tenant() + "." + n) || nic.equals(n)))
                    .map(i -> "instance " + i.name()).findFirst().orElse(null));
            ApiServer server = null;
            if (o.apiPort() >= 0) {
                audit = new AuditLog(state.resolve("control").resolve("audit.log"));
                ApiService svc = new ApiService(tenants, volumes, net, im, state.resolve("images"));
                boolean tcp = true;
                if (o.tcpOptional() && o.apiPort() > 0 && !portFree(o.apiHost(), o.apiPort())) {
                    // the default port is taken (another card on this host): the Unix socket still serves
                    LOG.warning("control API port " + o.apiHost() + ":" + o.apiPort()
                            + " is in use; serving the API on " + state.resolve("api.sock") + " only (use --api-port)");
                    tcp = false;
                }
                try {
                    server = new ApiServer(new ApiHandler(tenants, svc, audit), tcp ? o.apiHost() : null, o.apiPort(),
                            state.resolve("api.sock"));
                } catch (Exception e) {
                    Throwable root = e;
                    while (root.getCause() != null) {
                        root = root.getCause();
                    }
                    throw new UserError("control API on " + o.apiHost() + ":" + o.apiPort() + ": " + root.getMessage()
                            + " (choose another --api-port)");
                }
            }
            return new ControlPlane(net, trust, tenants, im, audit, server);
        } catch (IOException | RuntimeException e) {
            if (im != null) {
                im.close();
            }
            if (audit != null) {
                audit.close();
            }
            net.close();
            throw e;
        }
    }

    private static boolean portFree(String host, int port) {
        try (java.net.ServerSocket s = new java.net.ServerSocket(port, 1, java.net.InetAddress.getByName(host))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * The control socket's hook: a JSON line whose {@code op} is a network operation is served
     * by the network service ({@link NetworkWire}); anything else returns null (volume requests).
     */
    public String serveControlLine(String line) {
        String op;
        try {
            op = io.qingtian.card.fs.Json.MAPPER.readTree(line).path("op").asText("");
        } catch (IOException e) {
            return null;
        }
        if (io.qingtian.card.instance.AttestWire.OP.equals(op)) { // qt attest request (issue 7)
            return io.qingtian.card.instance.AttestWire.serve(instances, trust, line);
        }
        return NETWORK_OPS.contains(op) ? NetworkWire.serve(network, line) : null;
    }

    public NetworkService network() {
        return network;
    }

    public CardTrust trust() {
        return trust;
    }

    public TenantStore tenants() {
        return tenants;
    }

    public InstanceManager instances() {
        return instances;
    }

    /** The HTTP endpoint, or null without a TCP listener. */
    public String endpoint() {
        return api == null ? null : api.endpoint();
    }

    @Override
    public void close() {
        if (api != null) {
            api.close();
        }
        instances.close();
        network.close();
        if (audit != null) {
            try {
                audit.close();
            } catch (IOException e) {
                System.err.println("closing the audit log: " + e.getMessage());
            }
        }
    }
}
