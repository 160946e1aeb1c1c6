package io.qingtian.card.export;

/** The exporter the card daemon uses for {@code volume export --vhost-user}. */
public final class Exporters {
    private Exporters() {}

    public static BlockExporter vhostUser() {
        return new VhostUserBlkExporter();
    }
}
