package io.qingtian.card.cli;

import io.qingtian.card.daemon.StateDir;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --state DIR}: which card a command talks to (or runs). */
final class StateOption {
    @Option(names = "--state", required = true, paramLabel = "DIR", description = "The card's state directory.")
    Path state;

    StateDir dir() {
        return new StateDir(state);
    }
}
