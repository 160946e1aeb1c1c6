package io.qingtian.card.control;

import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import io.qingtian.card.volume.VolumeInfo;
import java.util.List;

/** The card's answer to one {@link ControlRequest}: one JSON line, its kind in {@code "status"}. */
@JsonTypeInfo(use = JsonTypeInfo.Id.NAME, include = JsonTypeInfo.As.PROPERTY, property = "status")
@JsonSubTypes({
        @JsonSubTypes.Type(value = ControlResponse.Ok.class, name = "ok"),
        @JsonSubTypes.Type(value = ControlResponse.Volumes.class, name = "volumes"),
        @JsonSubTypes.Type(value = ControlResponse.Failure.class, name = "error"),
})
public sealed interface ControlResponse {
    record Ok(String message) implements ControlResponse {}

    record Volumes(List<VolumeInfo> volumes) implements ControlResponse {}

    /** The request was refused or failed; {@code error} is one line for the user. */
    record Failure(String error) implements ControlResponse {}
}
