package io.qingtian.card.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code qt card}: run the card daemon and manage its volumes. */
@Command(name = "card", mixinStandardHelpOptions = true,
        description = "The card: owns storage (volumes, encryption, QoS, NBD) and serves it over vhost-user.",
        subcommands = {RunCommand.class, VolumeCommand.class, CommandLine.HelpCommand.class})
public final class CardCommand implements Runnable {
    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }
}
