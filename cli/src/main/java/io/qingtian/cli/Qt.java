package io.qingtian.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The root of the {@code qt} command. Each subcommand is defined by the module that owns
 * it (lab, hypervisor, card, ...) and only registered here.
 */
@Command(name = "qt", mixinStandardHelpOptions = true, version = "QingTian-J 0.1.0",
        description = "QingTian in Java: a lightweight KVM hypervisor and the card that owns all I/O.",
        subcommands = {CommandLine.HelpCommand.class})
public final class Qt implements Runnable {

    @Override
    public void run() {
        CommandLine.usage(this, System.out);
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The full command tree; tests call it the same way a user does. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Qt());
        // Subcommands register here, one line each, as modules add them.
        cl.addSubcommand("card", io.qingtian.card.cli.CardCommand.commandLine());
        cl.addSubcommand("cloud", io.qingtian.card.cli.api.CloudCommand.commandLine());
        cl.addSubcommand("completion", new io.qingtian.card.cli.api.CompletionCommand());
        cl.addSubcommand("hypervisor", new io.qingtian.hypervisor.HypervisorCommand());
        cl.addSubcommand("demo", new io.qingtian.hypervisor.demo.DemoCommand());
        cl.addSubcommand("lab", new io.qingtian.lab.LabCommand());
        cl.addSubcommand("image", new io.qingtian.trust.cli.ImageCommand());
        cl.addSubcommand("attest", new io.qingtian.trust.cli.AttestCommand());
        cl.setExecutionExceptionHandler(new UserErrorHandler());
        return cl;
    }
}
