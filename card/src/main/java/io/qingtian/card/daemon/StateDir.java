package io.qingtian.card.daemon;

import java.nio.file.Path;

/**
 * The layout of a card's state directory (documented in card/README.md):
 * <pre>
 * STATE/
 *   card.json        identity and format of this card (written once, atomically)
 *   card.lock        held (fcntl lock) by the running card; holds its pid
 *   control.sock     control socket (0600), present while the card runs
 *   keys/            0700; master.key (0600): the card's key-wrapping key
 *   volumes/         NAME.json metadata, NAME.img raw sparse data of local volumes
 *   exports.json     the volumes exported over vhost-user (restored when the card starts)
 * </pre>
 */
public record StateDir(Path root) {
    public StateDir {
        root = root.toAbsolutePath().normalize();
    }

    public Path cardJson() {
        return root.resolve("card.json");
    }

    public Path lockFile() {
        return root.resolve("card.lock");
    }

    public Path controlSocket() {
        return root.resolve("control.sock");
    }

    public Path keys() {
        return root.resolve("keys");
    }

    public Path exportsFile() {
        return root.resolve("exports.json");
    }

    public Path volumes() {
        return root.resolve("volumes");
    }
}
