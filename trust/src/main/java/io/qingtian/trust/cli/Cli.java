package io.qingtian.trust.cli;

import io.qingtian.sys.UserError;
import io.qingtian.trust.TrustException;
import io.qingtian.trust.crypto.SecretFiles;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Helpers shared by the trust commands: one-line errors, passphrase files. */
final class Cli {
    /** Exit status of a verification that refused (usage errors stay 2). */
    static final int REFUSED = 1;

    private Cli() {}

    static UserError error(TrustException e, int exitCode) {
        return new UserError(oneLine(e.getMessage()), exitCode);
    }

    static UserError error(String message, int exitCode) {
        return new UserError(oneLine(message), exitCode);
    }

    static String oneLine(String s) {
        return s == null ? "error" : s.replaceAll("[\\r\\n]+", " ").strip();
    }

    static char[] passphrase(Path file) {
        if (file == null) {
            return null;
        }
        try {
            // A passphrase file is a secret like a key: same permission rules.
            String s = new String(SecretFiles.readPrivate(file), StandardCharsets.UTF_8);
            s = s.endsWith("\n") ? s.substring(0, s.length() - 1) : s;
            if (s.isEmpty()) {
                throw new UserError(file + ": passphrase file is empty");
            }
            return s.toCharArray();
        } catch (TrustException e) {
            throw error(e, 2);
        }
    }
}
