package io.qingtian.network;

import io.qingtian.sys.UserError;

/**
 * A control-plane request the network service refuses (unknown name, overlapping CIDR,
 * address in use...). The message is one line, meant for the operator; the CLI prints it
 * without a stack trace.
 */
public final class NetworkException extends UserError {
    public NetworkException(String message) {
        super(message);
    }
}
