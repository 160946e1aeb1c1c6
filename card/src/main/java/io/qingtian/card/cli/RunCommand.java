package io.qingtian.card.cli;

import io.qingtian.card.daemon.CardDaemon;
import io.qingtian.card.export.Exporters;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code qt card run --state DIR}: the card daemon, in the foreground, until SIGTERM/SIGINT. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the card daemon in the foreground (SIGTERM or Ctrl-C stops it cleanly).")
final class RunCommand implements Callable<Integer> {
    @Mixin
    StateOption state;

    @Override
    public Integer call() throws Exception {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tL %4$s %5$s%6$s%n");
        }
        CardDaemon card = CardDaemon.start(state.dir(), Exporters.vhostUser());
        // The JVM runs shutdown hooks on SIGTERM and SIGINT: that is the clean stop.
        Runtime.getRuntime().addShutdownHook(new Thread(card::close, "card-shutdown"));
        System.out.println("card running at " + card.state().root() + " (control socket "
                + card.state().controlSocket() + ")");
        System.out.flush();
        card.awaitStopped();
        return 0;
    }
}
