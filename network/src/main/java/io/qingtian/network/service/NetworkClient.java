package io.qingtian.network.service;

/**
 * How a CLI command reaches the network service: in the same process ({@link #local}) or
 * through the card's control socket ({@link NetworkWire#client}).
 */
@FunctionalInterface
public interface NetworkClient {
    /** Performs the request; throws {@link io.qingtian.network.NetworkException} if refused. */
    NetworkReply call(NetworkRequest request);

    static NetworkClient local(NetworkService service) {
        return service::handle;
    }
}
