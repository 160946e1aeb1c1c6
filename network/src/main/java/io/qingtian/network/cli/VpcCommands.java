package io.qingtian.network.cli;

import io.qingtian.network.service.NetworkClient;
import io.qingtian.network.service.NetworkRequest;
import java.nio.file.Path;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "vpc", description = "Virtual private clouds: isolated L2/L3 domains.")
final class VpcCommands extends NetworkCommands.Group {
    @Command(name = "create", description = "Create a VPC.")
    static final class Create extends NetworkCommands.Leaf {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;
        @Option(names = "--cidr", required = true, description = "Address range, e.g. 10.0.0.0/16.")
        String cidr;
        @Option(names = "--tenant", defaultValue = "default", description = "Owning tenant (metadata identity).")
        String tenant;

        Create(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.VpcCreate(name, cidr, tenant);
        }
    }
}
