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

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    // card-control options (card/CONTROL.md)
    @picocli.CommandLine.Option(names = "--trust", paramLabel = "PUBLIC_KEY",
            description = "Trust anchors for secure boot: an Ed25519 .pub file or a directory of them.")
    java.nio.file.Path trust;

    @picocli.CommandLine.Option(names = "--passphrase-file", paramLabel = "FILE",
            description = "Passphrase protecting the card's root key.")
    java.nio.file.Path passphraseFile;

    @picocli.CommandLine.Option(names = "--api-port", paramLabel = "PORT", defaultValue = "7381",
            description = "TCP port of the HTTP control API on --api-host (0 = any free port, -1 = none; default ${DEFAULT-VALUE}).")
    int apiPort;

    @picocli.CommandLine.Option(names = "--api-host", paramLabel = "ADDR", defaultValue = "127.0.0.1",
            description = "Address the control API listens on (default ${DEFAULT-VALUE}).")
    String apiHost;

    @picocli.CommandLine.Option(names = "--uid-base", paramLabel = "UID", defaultValue = "640000",
            description = "First uid of the range given to confined hypervisors (default ${DEFAULT-VALUE}).")
    int uidBase;

    @picocli.CommandLine.Option(names = "--release-key", paramLabel = "PUBLIC_KEY",
            description = "Verify this card software's signed release (release.json) before starting; refuse to start if it fails.")
    java.nio.file.Path releaseKey;

    @picocli.CommandLine.Option(names = "--hypervisor-dist", paramLabel = "DIR",
            description = "Launch hypervisors from this packaged qt (qingtian-cli.jar + lib/) instead of the card's own class path.")
    java.nio.file.Path hypervisorDist;

    /**
     * How long SIGTERM may take ({@code -Dqt.card.shutdownMillis=N}): hypervisors get 5 s to
     * exit and 5 s more after SIGKILL, exports and requests in flight a few seconds each.
     */
    static final java.time.Duration SHUTDOWN_BOUND = java.time.Duration.ofMillis(Long.getLong("qt.card.shutdownMillis", 30_000));

    @Override
    public Integer call() throws Exception {
        if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
            System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tL %4$s %5$s%6$s%n");
        }
        if (releaseKey != null) {
            try {
                io.qingtian.trust.release.ReleaseManifest m = io.qingtian.trust.release.RunningRelease.verify(releaseKey);
                System.out.println("card software: release " + m.version() + " verified");
            } catch (io.qingtian.trust.TrustException e) {
                throw new io.qingtian.sys.UserError(e.getMessage());
            }
        }
        char[] pass = null;
        if (passphraseFile != null) {
            pass = java.nio.file.Files.readString(passphraseFile).strip().toCharArray();
        }
        if (apiPort < -1 || apiPort > 65535) {
            throw new io.qingtian.sys.UserError("--api-port must be -1..65535");
        }
        io.qingtian.card.api.ControlPlane.Options opts = new io.qingtian.card.api.ControlPlane.Options(trust, pass,
                apiHost, apiPort, hypervisorDist == null ? io.qingtian.card.instance.HypervisorLauncher.sameJvm()
                        : io.qingtian.card.instance.HypervisorLauncher.dist(hypervisorDist), uidBase,
                spec.commandLine().getParseResult().matchedOption("--api-port") == null);
        CardDaemon card = CardDaemon.start(state.dir(), Exporters.vhostUser(), opts);
        // The JVM runs shutdown hooks on SIGTERM and SIGINT: that is the clean stop. Bounded:
        // what is still stuck after the bound is reported and the process exits anyway (every
        // acknowledged flush is on disk already; the lock goes with the process).
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!io.qingtian.sys.BoundedWait.run("card-close", SHUTDOWN_BOUND, card::close)) {
                System.err.println("card: exiting with the shutdown unfinished (see above)");
            }
        }, "card-shutdown"));
        System.out.println("card running at " + card.state().root() + " (control socket "
                + card.state().controlSocket() + ")");
        if (apiPort >= 0) {
            String ep = card.plane().endpoint();
            System.out.println("control API at " + (ep == null ? "" : ep + " and ") + "unix:"
                    + card.state().root().resolve("api.sock") + " (operator token in "
                    + card.state().root().resolve("control/admin.token") + ")");
        }
        System.out.flush();
        card.awaitStopped();
        return 0;
    }
}
