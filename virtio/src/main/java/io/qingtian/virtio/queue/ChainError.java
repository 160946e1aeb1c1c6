package io.qingtian.virtio.queue;

/**
 * Why a descriptor chain could not be walked (virtio 1.2 §2.7.5, §2.7.5.3). A value the
 * device acts on: the request fails, the queue keeps running. {@link #NONE} means the
 * chain is well formed.
 */
public enum ChainError {
    NONE("well formed"),
    /** More descriptors than the queue (or indirect table) has: a loop (§2.7.5.3.1). */
    CHAIN_TOO_LONG("descriptor chain longer than the queue size (loop?)"),
    /** {@code next} names a descriptor outside the table. */
    NEXT_OUT_OF_RANGE("next descriptor index outside the table"),
    /** A buffer or indirect table not wholly inside one guest memory region. */
    ADDRESS_OUTSIDE_MEMORY("buffer outside guest memory"),
    /** The writable total exceeds what the used ring's 32-bit length can say. */
    LENGTH_OVERFLOW("buffer lengths overflow 32 bits"),
    /** A device-readable descriptor after a device-writable one (§2.7.4.2). */
    READABLE_AFTER_WRITABLE("device-readable descriptor after a device-writable one"),
    ZERO_LENGTH("zero-length descriptor"),
    /** An indirect descriptor inside an indirect table (§2.7.5.3.1). */
    NESTED_INDIRECT("indirect descriptor inside an indirect table"),
    /** INDIRECT together with NEXT (§2.7.5.3.1). */
    INDIRECT_WITH_NEXT("indirect descriptor with the NEXT flag"),
    /** An indirect table whose length is zero or not a multiple of 16. */
    BAD_INDIRECT_LENGTH("indirect table length not a non-zero multiple of 16");

    private final String description;

    ChainError(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }
}
