package io.qingtian.e2e.storage;

import io.qingtian.e2e.RawFileDisk;
import java.nio.file.Path;

/** A raw file of {@code size} bytes (created if missing) as the disk of the vhost-user guest tests. */
final class VhostUserFileDisk extends RawFileDisk {
    VhostUserFileDisk(Path file, long size, String serial) {
        super(file, size, false, serial);
    }
}
