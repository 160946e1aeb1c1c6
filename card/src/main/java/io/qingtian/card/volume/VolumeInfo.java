package io.qingtian.card.volume;

import com.fasterxml.jackson.annotation.JsonInclude;

/** One row of {@code volume list}: what a user or the control plane sees of a volume. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VolumeInfo(String name, long sizeBytes, String backend, boolean encrypted, long iops, long bandwidth,
        String serial, String exportedAt) {}
