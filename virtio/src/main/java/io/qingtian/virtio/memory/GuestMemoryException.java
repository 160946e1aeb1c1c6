package io.qingtian.virtio.memory;

/**
 * A guest address or length that does not fit guest memory. Checked on purpose: every
 * caller that touches guest memory must decide what a bad address means for it (fail the
 * request, mark the device broken) instead of letting it escape a worker thread.
 */
public final class GuestMemoryException extends Exception {
    public GuestMemoryException(String message) {
        super(message);
    }
}
