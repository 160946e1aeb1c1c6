package io.qingtian.hypervisor;

import java.io.InputStream;
import java.io.OutputStream;

/**
 * The host side of the guest's serial console.
 *
 * @param out where the guest's COM1 output goes (stdout for the CLI)
 * @param in  host input for the guest's COM1, or null for none
 */
public record Console(OutputStream out, InputStream in) {
    public Console {
        if (out == null) {
            throw new IllegalArgumentException("console output is required");
        }
    }
}
