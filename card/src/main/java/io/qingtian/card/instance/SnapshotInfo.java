package io.qingtian.card.instance;

/**
 * One snapshot the card keeps for an instance ({@code STATE/snapshots/TENANT/NAME/SNAP/}: the
 * hypervisor's {@code state} and {@code memory} files and this record as {@code snapshot.json}).
 *
 * @param memoryFileBytes the memory file's apparent size (guest RAM; zero pages are holes, so it
 *                        occupies only the guest's non-zero pages on disk)
 * @param millis          pause-to-written time as the card measured it around {@code PUT /snapshot/create}
 */
public record SnapshotInfo(String name, String instance, String createdAt, int cpus, int memoryMib, long stateBytes,
        long memoryFileBytes, double millis) {}
