package io.qingtian.network.cli;

import io.qingtian.network.service.NetworkBackends;
import io.qingtian.network.service.NetworkClient;
import io.qingtian.network.service.NetworkReply;
import io.qingtian.network.service.NetworkRequest;
import io.qingtian.network.service.NetworkService;
import java.nio.file.Path;
import java.util.function.Function;
import picocli.CommandLine;

/**
 * Registers the network commands ({@code vpc}, {@code subnet}, {@code sg}, {@code nic},
 * {@code uplink}) under the card's command. The card decides how a command reaches the
 * service for a given {@code --state DIR}: through the running card's control socket, or —
 * the default here — an in-process service on that directory (configuration only: it
 * persists the change for the card to pick up at its next start, and cannot export NICs
 * or attach TAPs).
 */
public final class NetworkCommands {
    private NetworkCommands() {}

    /** The in-process connector: a service over the state directory, no I/O backends. */
    public static NetworkClient offline(Path stateDir) {
        NetworkService svc = new NetworkService(stateDir, NetworkBackends.none());
        return request -> {
            try (svc) {
                return svc.handle(request);
            }
        };
    }

    public static void register(CommandLine card, Function<Path, NetworkClient> connector) {
        card.addSubcommand("vpc", new CommandLine(new VpcCommands()).addSubcommand(new VpcCommands.Create(connector)));
        card.addSubcommand("subnet",
                new CommandLine(new SubnetCommands()).addSubcommand(new SubnetCommands.Create(connector)));
        card.addSubcommand("sg", new CommandLine(new SgCommands())
                .addSubcommand(new SgCommands.Create(connector))
                .addSubcommand(new CommandLine(new SgCommands.Rule())
                        .addSubcommand(new SgCommands.RuleAdd(connector))
                        .addSubcommand(new SgCommands.RuleRemove(connector))));
        card.addSubcommand("nic", new CommandLine(new NicCommands())
                .addSubcommand(new NicCommands.Create(connector))
                .addSubcommand(new NicCommands.Limit(connector))
                .addSubcommand(new NicCommands.Export(connector))
                .addSubcommand(new NicCommands.Unexport(connector))
                .addSubcommand(new NicCommands.Stats(connector))
                .addSubcommand(new NicCommands.Delete(connector)));
        card.addSubcommand("uplink",
                new CommandLine(new UplinkCommands()).addSubcommand(new UplinkCommands.Attach(connector)));
        card.addSubcommand("network",
                new CommandLine(new ShowCommand.Group()).addSubcommand(new ShowCommand(connector)));
    }

    /** Shared by every leaf command: send the request for {@code --state DIR}, print the reply. */
    abstract static class Leaf implements Runnable {
        @CommandLine.Option(names = "--state", required = true, paramLabel = "DIR",
                description = "The card's state directory.")
        Path state;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        private final Function<Path, NetworkClient> connector;

        Leaf(Function<Path, NetworkClient> connector) {
            this.connector = connector;
        }

        abstract NetworkRequest request();

        @Override
        public void run() {
            NetworkReply reply = connector.apply(state).call(request());
            spec.commandLine().getOut().println(reply.render());
            spec.commandLine().getOut().flush();
        }
    }

    /** A command group prints its usage when run without a subcommand. */
    abstract static class Group implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }
}
