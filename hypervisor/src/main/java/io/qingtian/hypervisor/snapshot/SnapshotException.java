package io.qingtian.hypervisor.snapshot;

/**
 * A snapshot cannot be written or read: a corrupt, truncated or incompatible file, or a VM
 * that cannot be snapshotted. The message is for the user (the API returns it as a 400's
 * fault_message); the VM that was being snapshotted or restored into is left unchanged.
 */
public final class SnapshotException extends RuntimeException {
    public SnapshotException(String message) {
        super(message);
    }

    public SnapshotException(String message, Throwable cause) {
        super(message, cause);
    }
}
