package io.qingtian.network.cli;

import io.qingtian.network.service.NetworkClient;
import io.qingtian.network.service.NetworkRequest;
import java.nio.file.Path;
import java.util.function.Function;
import picocli.CommandLine.Command;

/** {@code qt card network show --state DIR}: the whole network configuration. */
@Command(name = "show", description = "Print VPCs, subnets, security groups, vNICs, uplinks and exports.")
final class ShowCommand extends NetworkCommands.Leaf {
    ShowCommand(Function<Path, NetworkClient> c) {
        super(c);
    }

    @Override
    NetworkRequest request() {
        return new NetworkRequest.Show();
    }

    @Command(name = "network", description = "The card's network configuration.")
    static final class Group extends NetworkCommands.Group {}
}
