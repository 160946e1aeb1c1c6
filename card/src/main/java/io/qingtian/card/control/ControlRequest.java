package io.qingtian.card.control;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;

/**
 * A request on the card's control socket: one JSON object per line, its kind in {@code "op"}.
 * The CLI's volume subcommands map one-to-one onto these; the later REST control API maps onto
 * the same operations.
 */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "op")
@JsonSubTypes({
        @JsonSubTypes.Type(value = ControlRequest.Status.class, name = "status"),
        @JsonSubTypes.Type(value = ControlRequest.CreateVolume.class, name = "volume.create"),
        @JsonSubTypes.Type(value = ControlRequest.ListVolumes.class, name = "volume.list"),
        @JsonSubTypes.Type(value = ControlRequest.ResizeVolume.class, name = "volume.resize"),
        @JsonSubTypes.Type(value = ControlRequest.DeleteVolume.class, name = "volume.delete"),
        @JsonSubTypes.Type(value = ControlRequest.ExportVolume.class, name = "volume.export"),
        @JsonSubTypes.Type(value = ControlRequest.UnexportVolume.class, name = "volume.unexport"),
        @JsonSubTypes.Type(value = ControlRequest.ImportVolume.class, name = "volume.import"),
})
public sealed interface ControlRequest {
    /** Is the card up? Answers with its state directory and pid. */
    record Status() implements ControlRequest {}

    /**
     * @param sizeBytes null only for an NBD volume (then the export's size)
     * @param key base64 of the 64-byte raw key, or null to let the card generate one
     * @param nbd {@code HOST:PORT/EXPORT} or null for a local file
     */
    record CreateVolume(String name, Long sizeBytes, boolean encrypt, String key, Long iops, Long iopsBurst,
            Long bandwidth, Long bandwidthBurst, String nbd) implements ControlRequest {}

    record ListVolumes() implements ControlRequest {}

    record ResizeVolume(String name, long sizeBytes) implements ControlRequest {}

    record DeleteVolume(String name) implements ControlRequest {}

    /** @param socket absolute path of the vhost-user socket the card listens on */
    record ExportVolume(String name, String socket, int queues, boolean readOnly) implements ControlRequest {}

    record UnexportVolume(String name) implements ControlRequest {}

    /** @param source absolute path of a raw image file readable by the card */
    record ImportVolume(String name, String source) implements ControlRequest {}
}
