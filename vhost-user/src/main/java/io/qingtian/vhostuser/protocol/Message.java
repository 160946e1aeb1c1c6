package io.qingtian.vhostuser.protocol;

import java.util.Arrays;

/**
 * One vhost-user message as it travels: the header fields, the payload and the fds sent
 * with it as SCM_RIGHTS. {@link VhostUserCodec} turns it into {@link Request}s and replies.
 */
public record Message(int request, int flags, byte[] payload, int[] fds) {
    public Message {
        payload = payload.clone();
        fds = fds.clone();
    }

    public boolean isReply() {
        return (flags & VhostUser.FLAG_REPLY) != 0;
    }

    public boolean needsReply() {
        return (flags & VhostUser.FLAG_NEED_REPLY) != 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Message m && request == m.request && flags == m.flags
                && Arrays.equals(payload, m.payload) && Arrays.equals(fds, m.fds);
    }

    @Override
    public int hashCode() {
        return (request * 31 + flags) * 31 + Arrays.hashCode(payload);
    }

    @Override
    public String toString() {
        RequestCode c = RequestCode.of(request);
        return "Message[" + (c == null ? "request " + request : c) + ", flags=0x" + Integer.toHexString(flags)
                + ", " + payload.length + " bytes, fds=" + Arrays.toString(fds) + "]";
    }
}
