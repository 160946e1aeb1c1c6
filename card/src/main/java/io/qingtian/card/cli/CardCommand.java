package io.qingtian.card.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code qt card}: run the card daemon and manage its volumes. */
@Command(name = "card", mixinStandardHelpOptions = true,
        description = "The card: owns storage (volumes, encryption, QoS, NBD) and serves it over vhost-user.",
        subcommands = {RunCommand.class, VolumeCommand.class, CommandLine.HelpCommand.class})
public final class CardCommand implements Runnable {
    /**
     * The command with the network service's commands registered (vpc, subnet, sg, nic, uplink,
     * network): through the running card's control socket, or offline on its state directory.
     */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new CardCommand());
        io.qingtian.network.cli.NetworkCommands.register(cl, dir -> {
            if (java.nio.file.Files.exists(dir.resolve("control.sock"))) {
                return io.qingtian.network.service.NetworkWire.client(json -> {
                    try (io.qingtian.card.control.ControlClient c = io.qingtian.card.control.ControlClient.connect(dir)) {
                        return c.callRaw(json);
                    } catch (java.io.IOException e) {
                        throw new io.qingtian.sys.UserError("control socket: " + e.getMessage());
                    }
                });
            }
            return io.qingtian.network.cli.NetworkCommands.offline(dir);
        });
        return cl;
    }

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
