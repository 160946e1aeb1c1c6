package io.qingtian.card.cli.api;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code qt cloud ...}: the card's HTTP control API for people (card/CONTROL.md). Token and
 * endpoint from {@code --token}/{@code --endpoint} or QT_TOKEN/QT_ENDPOINT.
 */
@Command(name = "cloud", mixinStandardHelpOptions = true,
        description = "Drive a running card's control API: tenants, tokens, instances, volumes, networks.")
public final class CloudCommand implements Runnable {
    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new CloudCommand());
        cl.addSubcommand("whoami", new Whoami());
        cl.addSubcommand("tenant", group("Tenants (operator token).", new TenantCreate(), new TenantList(), new TenantToken()));
        cl.addSubcommand("token", group("API tokens of your tenant.", new TokenCreate(), new TokenList(), new TokenRevoke()));
        cl.addSubcommand("volume", group("Volumes.", new VolumeCreate(), new VolumeList(), new VolumeShow(), new VolumeDelete()));
        cl.addSubcommand("instance", group("Instances (one confined hypervisor each).", new InstanceCreate(),
                new InstanceList(), new InstanceShow(), new Action("start"), new Action("stop"), new Action("reboot"),
                new Action("pause"), new Action("resume"), new SnapshotCreate(), new SnapshotList(), new SnapshotDelete(),
                new Restore(), new InstanceDelete(), new Console(), new Attest()));
        cl.addSubcommand("vpc", group("VPCs.", new VpcCreate(), new Lister("/v1/vpcs", "name", "cidr")));
        cl.addSubcommand("subnet", group("Subnets.", new SubnetCreate(), new Lister("/v1/subnets", "name", "vpc", "cidr", "gateway")));
        cl.addSubcommand("sg", group("Security groups.", new SgCreate(), new Lister("/v1/security-groups", "name", "rules"),
                new SgRule()));
        cl.addSubcommand("nic", group("Virtual NICs.", new NicCreate(), new Lister("/v1/nics", "name", "subnet", "ip", "mac")));
        return cl;
    }

    @Command(mixinStandardHelpOptions = true)
    static final class Group implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(System.out);
        }
    }

    private static CommandLine group(String description, Object... leaves) {
        CommandLine g = new CommandLine(new Group());
        g.getCommandSpec().usageMessage().description(description);
        for (Object l : leaves) {
            CommandLine c = new CommandLine(l);
            String name = l instanceof Action a ? a.action : c.getCommandName();
            if (l instanceof Action a) {
                c.getCommandSpec().usageMessage().description(a.action + " an instance");
            }
            g.addSubcommand(name, c);
        }
        return g;
    }

    abstract static class Leaf implements Runnable {
        @Mixin
        Connection conn;

        abstract void call(ApiClient api);

        @Override
        public void run() {
            call(conn.client());
        }
    }

    @Command(name = "whoami", mixinStandardHelpOptions = true, description = "Show the token's tenant.")
    static final class Whoami extends Leaf {
        void call(ApiClient api) {
            conn.print(api.json("GET", "/v1/whoami", null, null));
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a tenant; prints its first token.")
    static final class TenantCreate extends Leaf {
        @Parameters(paramLabel = "NAME") String name;

        void call(ApiClient api) {
            conn.print(api.json("POST", "/v1/tenants", Map.of("name", name), null), "tenant.id", "tenant.name", "token");
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List tenants.")
    static final class TenantList extends Leaf {
        void call(ApiClient api) {
            conn.print(api.json("GET", "/v1/tenants", null, null), "id", "name", "createdAt");
        }
    }

    @Command(name = "token", mixinStandardHelpOptions = true, description = "Issue another token for a tenant.")
    static final class TenantToken extends Leaf {
        @Parameters(paramLabel = "TENANT_ID") String id;

        void call(ApiClient api) {
            conn.print(api.json("POST", "/v1/tenants/" + id + "/tokens", null, "tenant " + id), "token");
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Issue a new token (shown once).")
    static final class TokenCreate extends Leaf {
        void call(ApiClient api) {
            conn.print(api.json("POST", "/v1/tokens", null, null), "token");
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List token ids.")
    static final class TokenList extends Leaf {
        void call(ApiClient api) {
            conn.print(api.json("GET", "/v1/tokens", null, null), "id", "createdAt");
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke a token by id.")
    static final class TokenRevoke extends Leaf {
        @Parameters(paramLabel = "ID") String id;

        void call(ApiClient api) {
            conn.print(api.json("DELETE", "/v1/tokens/" + id, null, "token " + id));
        }
    }

    static final String[] VOLUME_COLUMNS = {"name", "sizeBytes", "encrypted", "iops", "bandwidth", "attached"};

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a volume.")
    static final class VolumeCreate extends Leaf {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--size", required = true, paramLabel = "SIZE") String size;
        @Option(names = "--encrypt") boolean encrypt;
        @Option(names = "--iops", paramLabel = "N") Long iops;
        @Option(names = "--bandwidth", paramLabel = "BYTES_PER_S") Long bandwidth;

        void call(ApiClient api) {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("name", name);
            b.put("size", size);
            b.put("encrypted", encrypt);
            if (iops != null) {
                b.put("iops", iops);
            }
            if (bandwidth != null) {
                b.put("bandwidth", bandwidth);
            }
            conn.print(api.json("POST", "/v1/volumes", b, null), VOLUME_COLUMNS);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List volumes.")
    static final class VolumeList extends Leaf {
        void call(ApiClient api) {
            conn.print(api.json("GET", "/v1/volumes", null, null), VOLUME_COLUMNS);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show a volume.")
    static final class VolumeShow extends Leaf {
        @Parameters(paramLabel = "NAME") String name;

        void call(ApiClient api) {
            conn.print(api.json("GET", "/v1/volumes/" + name, null, "volume " + name), VOLUME_COLUMNS);
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete a volume.")
    static final class VolumeDelete extends Leaf {
        @Parameters(paramLabel = "NAME") String name;

        void call(ApiClient api) {
            conn.print(api.json("DELETE", "/v1/volumes/" + name, null, "volume " + name));
        }
    }

    static final String[] INSTANCE_COLUMNS = {"name", "state", "cpus", "memoryMib", "pid", "uid", "restarts",
            "lastExit.meaning"};

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create (and start) an instance.")
    static final class InstanceCreate extends Leaf {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--kernel", paramLabel = "IMAGE", description = "kernel in the card's image directory") String kernel;
        @Option(names = "--initramfs", paramLabel = "IMAGE") String initramfs;
        @Option(names = "--cmdline", paramLabel = "TEXT") String cmdline;
        @Option(names = "--manifest", paramLabel = "IMAGE", description = "signed boot manifest (secure boot)") String manifest;
        @Option(names = "--cpus", paramLabel = "N") Integer cpus;
        @Option(names = "--memory-mib", paramLabel = "MIB") Integer memory;
        @Option(names = "--volume", paramLabel = "NAME") List<String> volumes;
        @Option(names = "--nic", paramLabel = "NAME") List<String> nics;
        @Option(names = "--restart", paramLabel = "POLICY", description = "never | on-failure") String restart;
        @Option(names = "--no-start", description = "define only") boolean noStart;

        void call(ApiClient api) {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("name", name);
            put(b, "kernel", kernel);
            put(b, "initramfs", initramfs);
            put(b, "cmdline", cmdline);
            put(b, "manifest", manifest);
            put(b, "cpus", cpus);
            put(b, "memoryMib", memory);
            put(b, "volumes", volumes);
            put(b, "nics", nics);
            put(b, "restartPolicy", restart);
            b.put("start", !noStart);
            conn.print(api.json("POST", "/v1/instances", b, null), INSTANCE_COLUMNS);
        }
    }

    static void put(Map<String, Object> m, String k, Object v) {
        if (v != null) {
            m.put(k, v);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List instances.")
    static final class InstanceList extends Leaf {
        void call(ApiClient api) {
            conn.print(api.json("GET", "/v1/instances", null, null), INSTANCE_COLUMNS);
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show an instance.")
    static final class InstanceShow extends Leaf {
        @Parameters(paramLabel = "NAME") String name;

        void call(ApiClient api) {
            conn.print(api.json("GET", "/v1/instances/" + name, null, "instance " + name));
        }
    }

    @Command(mixinStandardHelpOptions = true)
    static final class Action extends Leaf {
        final String action;
        @Parameters(paramLabel = "NAME") String name;

        Action(String action) {
            this.action = action;
        }

        void call(ApiClient api) {
            conn.print(api.json("POST", "/v1/instances/" + name + "/" + action, null, "instance " + name), INSTANCE_COLUMNS);
        }
    }

    static final String[] SNAPSHOT_COLUMNS = {"name", "instance", "createdAt", "memoryMib", "stateBytes", "memoryFileBytes", "millis"};

    @Command(name = "snapshot", mixinStandardHelpOptions = true,
            description = "Snapshot a running (paused for it, then resumed) or paused instance; the card keeps the files.")
    static final class SnapshotCreate extends Leaf {
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", paramLabel = "SNAPSHOT") String snapshot;

        void call(ApiClient api) {
            conn.print(api.json("POST", "/v1/instances/" + name + "/snapshot", Map.of("name", snapshot), "instance " + name),
                    SNAPSHOT_COLUMNS);
        }
    }

    @Command(name = "snapshots", mixinStandardHelpOptions = true, description = "List an instance's snapshots.")
    static final class SnapshotList extends Leaf {
        @Parameters(paramLabel = "NAME") String name;

        void call(ApiClient api) {
            conn.print(api.json("GET", "/v1/instances/" + name + "/snapshots", null, "instance " + name), SNAPSHOT_COLUMNS);
        }
    }

    @Command(name = "snapshot-delete", mixinStandardHelpOptions = true, description = "Delete one of an instance's snapshots.")
    static final class SnapshotDelete extends Leaf {
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", paramLabel = "SNAPSHOT") String snapshot;

        void call(ApiClient api) {
            conn.print(api.json("DELETE", "/v1/instances/" + name + "/snapshots/" + snapshot, null,
                    "snapshot " + snapshot + " of instance " + name));
        }
    }

    @Command(name = "restore", mixinStandardHelpOptions = true,
            description = "Restore a stopped instance from one of its snapshots (a new hypervisor process resumes it).")
    static final class Restore extends Leaf {
        @Parameters(index = "0", paramLabel = "NAME") String name;
        @Parameters(index = "1", paramLabel = "SNAPSHOT") String snapshot;

        void call(ApiClient api) {
            conn.print(api.json("POST", "/v1/instances/" + name + "/restore", Map.of("snapshot", snapshot), null),
                    INSTANCE_COLUMNS);
        }
    }

    @Command(name = "delete", mixinStandardHelpOptions = true, description = "Stop and delete an instance.")
    static final class InstanceDelete extends Leaf {
        @Parameters(paramLabel = "NAME") String name;

        void call(ApiClient api) {
            conn.print(api.json("DELETE", "/v1/instances/" + name, null, "instance " + name));
        }
    }

    @Command(name = "console", mixinStandardHelpOptions = true, description = "Print the instance's console log (last 256 KiB).")
    static final class Console extends Leaf {
        @Parameters(paramLabel = "NAME") String name;

        void call(ApiClient api) {
            System.out.print(api.call("GET", "/v1/instances/" + name + "/console", null, "instance " + name));
        }
    }

    @Command(name = "attest", mixinStandardHelpOptions = true,
            description = "Get an attestation document (COSE_Sign1) for the instance; verify with `qt attest verify`.")
    static final class Attest extends Leaf {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--nonce", required = true, paramLabel = "HEX") String nonce;
        @Option(names = "--out", required = true, paramLabel = "FILE") Path out;

        void call(ApiClient api) {
            JsonNode n = api.json("POST", "/v1/instances/" + name + "/attestation", Map.of("nonce", nonce), "instance " + name);
            try {
                Files.write(out, java.util.Base64.getDecoder().decode(n.get("document").asText()));
            } catch (java.io.IOException e) {
                throw new io.qingtian.sys.UserError("cannot write " + out + ": " + e.getMessage());
            }
            System.out.println("attestation document for " + name + " written to " + out);
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true, description = "List.")
    static final class Lister extends Leaf {
        final String path;
        final String[] columns;

        Lister(String path, String... columns) {
            this.path = path;
            this.columns = columns;
        }

        void call(ApiClient api) {
            conn.print(api.json("GET", path, null, null), columns);
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a VPC.")
    static final class VpcCreate extends Leaf {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--cidr", required = true) String cidr;

        void call(ApiClient api) {
            conn.print(api.json("POST", "/v1/vpcs", Map.of("name", name, "cidr", cidr), null));
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a subnet.")
    static final class SubnetCreate extends Leaf {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--vpc", required = true) String vpc;
        @Option(names = "--cidr", required = true) String cidr;

        void call(ApiClient api) {
            conn.print(api.json("POST", "/v1/subnets", Map.of("name", name, "vpc", vpc, "cidr", cidr), "vpc " + vpc));
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a security group.")
    static final class SgCreate extends Leaf {
        @Parameters(paramLabel = "NAME") String name;

        void call(ApiClient api) {
            conn.print(api.json("POST", "/v1/security-groups", Map.of("name", name), null));
        }
    }

    @Command(name = "rule-add", mixinStandardHelpOptions = true, description = "Allow ingress to a security group.")
    static final class SgRule extends Leaf {
        @Parameters(paramLabel = "GROUP") String group;
        @Option(names = "--proto", required = true) String proto;
        @Option(names = "--ports") String ports;
        @Option(names = "--from", required = true, paramLabel = "CIDR") String from;

        void call(ApiClient api) {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("proto", proto);
            put(b, "ports", ports);
            b.put("from", from);
            conn.print(api.json("POST", "/v1/security-groups/" + group + "/rules", b, "security group " + group));
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a NIC.")
    static final class NicCreate extends Leaf {
        @Parameters(paramLabel = "NAME") String name;
        @Option(names = "--subnet", required = true) String subnet;
        @Option(names = "--ip") String ip;
        @Option(names = "--sg", paramLabel = "GROUP") List<String> sgs;

        void call(ApiClient api) {
            Map<String, Object> b = new LinkedHashMap<>();
            b.put("name", name);
            b.put("subnet", subnet);
            put(b, "ip", ip);
            put(b, "securityGroups", sgs);
            conn.print(api.json("POST", "/v1/nics", b, null), "name", "subnet", "ip", "mac");
        }
    }
}
