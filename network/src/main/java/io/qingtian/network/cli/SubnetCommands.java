package io.qingtian.network.cli;

import io.qingtian.network.service.NetworkClient;
import io.qingtian.network.service.NetworkRequest;
import java.nio.file.Path;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "subnet", description = "Subnets of a VPC (gateway = first host address).")
final class SubnetCommands extends NetworkCommands.Group {
    @Command(name = "create", description = "Create a subnet inside a VPC.")
    static final class Create extends NetworkCommands.Leaf {
        @Parameters(index = "0", paramLabel = "NAME")
        String name;
        @Option(names = "--vpc", required = true)
        String vpc;
        @Option(names = "--cidr", required = true, description = "Inside the VPC's CIDR, at most /29.")
        String cidr;
        @Option(names = "--dns", description = "DNS server handed out by DHCP (optional).")
        String dns;

        Create(Function<Path, NetworkClient> c) {
            super(c);
        }

        @Override
        NetworkRequest request() {
            return new NetworkRequest.SubnetCreate(name, vpc, cidr, dns);
        }
    }
}
