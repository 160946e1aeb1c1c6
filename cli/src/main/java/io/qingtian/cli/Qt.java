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
        if (args.length > 0 && (args[0].equals("hypervisor") || args[0].equals("demo"))) {
            // builds the VMM's downcall handles while picocli parses (NativePrewarm says why)
            io.qingtian.sys.NativePrewarm.startForKvmVmm();
        }
        System.exit(commandLine(args.length > 0 ? args[0] : null).execute(args));
    }

    /** The full command tree; tests call it the same way a user does. */
    public static CommandLine commandLine() {
        return commandLine(null);
    }

    /**
     * The command tree for a command line whose first word is {@code first}: when that names a
     * subcommand of the VMM's start-up path ({@link #LEAN}), only that subcommand's tree is
     * built. Building a tree instantiates its command objects and loads their classes; in the nested lab (TCG, 10-30x slower than native) the
     * trees the hypervisor never uses (card: Jetty, Jackson, BouncyCastle; trust; lab) cost
     * seconds of `qt hypervisor run` start-up. Every other first word (an option, help, a
     * typo) gets the full tree, so help and error messages are unchanged.
     */
    static CommandLine commandLine(String first) {
        CommandLine cl = new CommandLine(new Qt());
        // Subcommands register here, one line each, as modules add them.
        if (wanted(first, "card")) cl.addSubcommand("card", io.qingtian.card.cli.CardCommand.commandLine());
        if (wanted(first, "cloud")) cl.addSubcommand("cloud", io.qingtian.card.cli.api.CloudCommand.commandLine());
        if (wanted(first, "completion")) cl.addSubcommand("completion", new io.qingtian.card.cli.api.CompletionCommand());
        if (wanted(first, "hypervisor")) cl.addSubcommand("hypervisor", new io.qingtian.hypervisor.HypervisorCommand());
        if (wanted(first, "demo")) cl.addSubcommand("demo", new io.qingtian.hypervisor.demo.DemoCommand());
        if (wanted(first, "lab")) cl.addSubcommand("lab", new io.qingtian.lab.LabCommand());
        if (wanted(first, "image")) cl.addSubcommand("image", new io.qingtian.trust.cli.ImageCommand());
        if (wanted(first, "attest")) cl.addSubcommand("attest", new io.qingtian.trust.cli.AttestCommand());
        cl.setExecutionExceptionHandler(new UserErrorHandler());
        return cl;
    }

    /**
     * The subcommands that get a tree of their own: the VMM's start-up path. Others (completion
     * walks the whole tree) always get the full tree.
     */
    private static final java.util.Set<String> LEAN = java.util.Set.of("hypervisor", "demo");

    /** Whether the subcommand {@code name} belongs in the tree for a first word {@code first}. */
    private static boolean wanted(String first, String name) {
        return first == null || !LEAN.contains(first) || first.equals(name);
    }
}
