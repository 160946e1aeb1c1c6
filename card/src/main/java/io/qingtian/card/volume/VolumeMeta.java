package io.qingtian.card.volume;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.qingtian.card.nbd.NbdTarget;

/**
 * What the card persists about one volume ({@code volumes/NAME.json}). The data lives in
 * {@code volumes/NAME.img} (local) or on the NBD server (remote). The volume key is stored
 * only wrapped by the card's master key.
 *
 * @param format metadata format version (1)
 * @param serial the virtio-blk serial (GET_ID), at most 20 bytes
 * @param nbd the remote export, or null for a local file
 * @param encryption null for a plaintext volume
 * @param qos null for an unlimited volume
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record VolumeMeta(int format, String name, String serial, long sizeBytes, NbdTarget nbd,
        Encryption encryption, Qos qos, String created) {
    public static final int FORMAT = 1;

    /** dm-crypt plain mode parameters; only aes-xts-plain64 / 512-bit key / 512-byte sectors exist today. */
    public record Encryption(String cipher, int keyBits, int sectorSize, String wrappedKey) {
        public static final String AES_XTS_PLAIN64 = "aes-xts-plain64";
    }

    /** Token bucket limits; 0 means no limit of that kind. Bursts are in operations and bytes. */
    public record Qos(long iops, long iopsBurst, long bandwidth, long bandwidthBurst) {}

    public boolean remote() {
        return nbd != null;
    }

    public VolumeMeta withSize(long newSize) {
        return new VolumeMeta(format, name, serial, newSize, nbd, encryption, qos, created);
    }
}
