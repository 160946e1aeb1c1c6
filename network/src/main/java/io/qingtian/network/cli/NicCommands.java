package io.qingtian.network.cli;

import io.qingtian.network.service.NetworkClient;
import io.qingtian.network.service.NetworkRequest;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "nic", description = "vNICs: switch ports with an assigned IP and MAC.")
final class NicCommands extends NetworkCommands.Group {
    /** A command on one vNIC, named by its first parameter. */
    abstract static class OnNic extends NetworkCommands.Leaf {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;

        OnNic(Function<Path, NetworkClient> c) {
            super(c);
        }
    }

    /** The rate limits of what the guest sends (create and limit). */
    static final class RateLimits {
        @Option(names = "--max-bps", defaultValue = "0", description = "Limit on what the guest sends, bits/s (0 = none).")
        long maxBps;
        @Option(names = "--max-pps", defaultValue = "0", description = "Limit on what the guest sends, packets/s (0 = none).")
        long maxPps;
    }

    @Command(name = "create", description = "Create a vNIC in a subnet.")
    static final class Create extends OnNic {
        @Option(names = "--subnet", required = true)
        String subnet;
        @Option(names = "--ip", description = "Address in the subnet (default: lowest free).")
        String ip;
        @Option(names = "--mac", description = "aa:bb:cc:dd:ee:ff (default: random, locally administered).")
        String mac;
        @Option(names = "--sg", paramLabel = "SG", description = "Security group (repeatable).")
        List<String> groups = new ArrayList<>();
        @Option(names = "--instance", description = "Instance id for the metadata service (default: NAME).")
        String instance;
        @Mixin
        RateLimits limits = new RateLimits();

        Create(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.NicCreate(name, subnet, ip, mac, groups, instance, limits.maxBps, limits.maxPps);
        }
    }

    @Command(name = "limit", description = "Change a vNIC's rate limits (0 = none).")
    static final class Limit extends OnNic {
        @Mixin
        RateLimits limits = new RateLimits();

        Limit(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.NicLimit(name, limits.maxBps, limits.maxPps);
        }
    }

    @Command(name = "export", description = "Serve the vNIC as a vhost-user-net device on a socket.")
    static final class Export extends OnNic {
        @Option(names = "--vhost-user", required = true, paramLabel = "SOCKET_PATH")
        String socket;

        Export(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.NicExport(name, socket);
        }
    }

    @Command(name = "unexport", description = {
            "Stop serving the vNIC on its vhost-user socket and forget the export (the NIC stays).",
            "Refused while a VM is connected to it."})
    static final class Unexport extends OnNic {
        @Option(names = "--force", description = "Disconnect a connected front-end (the guest loses the NIC's backend).")
        boolean force;

        Unexport(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.NicUnexport(name, force);
        }
    }

    @Command(name = "stats", description = "Counters: rx/tx packets and bytes, drops by reason.")
    static final class Stats extends OnNic {

        Stats(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.NicStats(name);
        }
    }

    @Command(name = "delete", description = {
            "Delete a vNIC: stops its vhost-user export, frees its IP and MAC, drops its counters.",
            "Refused while a VM is connected to it (or an instance names it)."})
    static final class Delete extends OnNic {
        @Option(names = "--force", description = "Disconnect a connected front-end (the guest loses the NIC's backend).")
        boolean force;

        Delete(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.NicDelete(name, force);
        }
    }
}
