package io.qingtian.card.cli.api;

import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code qt completion bash}: a bash completion script for the whole qt tree (source it). */
@Command(name = "completion", mixinStandardHelpOptions = true,
        description = "Print a shell completion script: source <(qt completion bash)")
public final class CompletionCommand implements Runnable {
    @Parameters(paramLabel = "SHELL", defaultValue = "bash", description = "bash (zsh: load it with bashcompinit)")
    String shell;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        if (!shell.equals("bash") && !shell.equals("zsh")) {
            throw new io.qingtian.sys.UserError("completion supports bash and zsh, not '" + shell + "'");
        }
        System.out.print(AutoComplete.bash("qt", spec.root().commandLine()));
    }
}
