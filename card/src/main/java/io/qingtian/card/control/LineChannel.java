package io.qingtian.card.control;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/** Newline-delimited messages on a stream socket, with a hard limit on the line length. */
final class LineChannel {
    static final int MAX_LINE = 1 << 20;
    private final SocketChannel channel;
    private final ByteBuffer in = ByteBuffer.allocate(64 * 1024).flip();

    LineChannel(SocketChannel channel) {
        this.channel = channel;
    }

    /** The next line without its newline, or null at a clean end of stream. */
    String readLine() throws IOException {
        java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();
        while (true) {
            while (in.hasRemaining()) {
                byte b = in.get();
                if (b == '\n') {
                    return line.toString(StandardCharsets.UTF_8);
                }
                if (line.size() >= MAX_LINE) {
                    throw new LineTooLongException();
                }
                line.write(b);
            }
            in.clear();
            int n = channel.read(in);
            in.flip();
            if (n < 0) {
                if (line.size() == 0) {
                    return null;
                }
                throw new EOFException("connection closed in the middle of a message");
            }
        }
    }

    void writeLine(byte[] json) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(json.length + 1).put(json).put((byte) '\n').flip();
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    static final class LineTooLongException extends IOException {
        LineTooLongException() {
            super("message longer than " + MAX_LINE + " bytes");
        }
    }
}
