package io.qingtian.network.cli;

import io.qingtian.network.service.NetworkClient;
import io.qingtian.network.service.NetworkRequest;
import java.nio.file.Path;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "uplink", description = "A VPC's external port: a TAP device on the host.")
final class UplinkCommands extends NetworkCommands.Group {
    @Command(name = "attach", description = "Attach TAP IFNAME (created if missing) as the VPC's uplink.")
    static final class Attach extends NetworkCommands.Leaf {
        @Parameters(index = "0", paramLabel = "VPC")
        String vpc;
        @Option(names = "--tap", required = true, paramLabel = "IFNAME")
        String tap;

        Attach(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.UplinkAttach(vpc, tap);
        }
    }
}
