package io.qingtian.e2e.card;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** {@code qt card run --state DIR} as a child process; its log goes to {@code DIR/../card-N.log}. */
final class CardProcess implements AutoCloseable {
    private static int counter;
    final Process process;
    final Path state;
    final Path log;

    private CardProcess(Process process, Path state, Path log) {
        this.process = process;
        this.state = state;
        this.log = log;
    }

    static CardProcess start(Path state) throws IOException, InterruptedException {
        Path log = state.toAbsolutePath().resolveSibling("card-" + (++counter) + ".log");
        Process p = new ProcessBuilder(Qt.command("card", "run", "--state", state.toString()))
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        CardProcess c = new CardProcess(p, state, log);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.readString(log).contains("card running at")) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                c.close();
                throw new AssertionError("card did not start: " + Files.readString(log));
            }
            Thread.sleep(50);
        }
        return c;
    }

    /** kill -9: no shutdown hook, no flush, no socket removal. */
    void kill9() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM; returns the exit code. */
    int terminate() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(30, TimeUnit.SECONDS)) {
            throw new AssertionError("card ignored SIGTERM");
        }
        return process.exitValue();
    }

    String log() throws IOException {
        return Files.readString(log);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
