package io.qingtian.cli;

import io.qingtian.sys.UserError;
import picocli.CommandLine;

/**
 * A user's mistake (bad path, wrong image, no /dev/kvm) prints one line and exits 2;
 * anything else is a bug and keeps its stack trace.
 */
final class UserErrorHandler implements CommandLine.IExecutionExceptionHandler {
    @Override
    public int handleExecutionException(Exception ex, CommandLine cl, CommandLine.ParseResult parsed) {
        if (ex instanceof UserError u) {
            cl.getErr().println("qt: " + u.getMessage());
            return u.exitCode();
        }
        throw new RuntimeException(ex);
    }
}
