package io.qingtian.hypervisor.devices;

import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Buffers a guest console's bytes so the host sees one write per line, not one syscall
 * per byte: the buffer goes out on a newline, when it is full, and when the guest has
 * paused for {@link #FLUSH_DELAY_MS} (a prompt or an echoed keystroke has no newline).
 * The pause timer is one virtual thread, started on first use.
 *
 * <p>A failing host stream (closed pipe) never reaches the guest: the error is
 * remembered and later output is dropped.
 */
final class ConsoleOutput implements AutoCloseable {
    static final int FLUSH_DELAY_MS = 5;
    static final int CAPACITY = 4096;

    private final OutputStream out;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition armed = lock.newCondition();
    private final byte[] buf = new byte[CAPACITY];
    private int count;
    private boolean timerArmed;
    private boolean closed;
    private boolean broken;
    private Thread flusher;

    private final long flushDelayNanos;

    ConsoleOutput(OutputStream out) {
        this(out, TimeUnit.MILLISECONDS.toNanos(FLUSH_DELAY_MS));
    }

    /** With another pause before a partial line goes out (tests: one that never comes). */
    ConsoleOutput(OutputStream out, long flushDelayNanos) {
        this.out = out;
        this.flushDelayNanos = flushDelayNanos;
    }

    void write(int b) {
        lock.lock();
        try {
            if (closed || broken) {
                return;
            }
            buf[count++] = (byte) b;
            if (b == '\n' || count == buf.length) {
                flushLocked();
            } else if (!timerArmed) {
                timerArmed = true;
                if (flusher == null) {
                    flusher = Thread.ofVirtual().name("console-flush").start(this::flushLoop);
                }
                armed.signal();
            }
        } finally {
            lock.unlock();
        }
    }

    void flush() {
        lock.lock();
        try {
            flushLocked();
        } finally {
            lock.unlock();
        }
    }

    /** True once the host stream failed; output since then was dropped. */
    boolean broken() {
        lock.lock();
        try {
            return broken;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        lock.lock();
        try {
            flushLocked();
            closed = true;
            armed.signal();
        } finally {
            lock.unlock();
        }
    }

    private void flushLocked() {
        if (count == 0 || broken) {
            count = 0;
            return;
        }
        try {
            out.write(buf, 0, count);
            out.flush();
        } catch (IOException e) {
            broken = true;
        }
        count = 0;
    }

    private void flushLoop() {
        lock.lock();
        try {
            while (!closed) {
                while (!timerArmed && !closed) {
                    armed.awaitUninterruptibly();
                }
                if (closed) {
                    return;
                }
                long remaining = flushDelayNanos;
                while (remaining > 0 && !closed) {
                    try {
                        remaining = armed.awaitNanos(remaining);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                flushLocked();
                timerArmed = false;
            }
        } finally {
            lock.unlock();
        }
    }
}
