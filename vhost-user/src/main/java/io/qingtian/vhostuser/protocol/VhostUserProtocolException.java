package io.qingtian.vhostuser.protocol;

/**
 * The peer broke the vhost-user protocol (bad header, wrong payload size, missing or extra
 * fds, an unknown request). The connection cannot be trusted afterwards: the owner logs the
 * message and closes it.
 */
public final class VhostUserProtocolException extends Exception {
    public VhostUserProtocolException(String message) {
        super(message);
    }
}
