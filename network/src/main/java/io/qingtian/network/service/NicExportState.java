package io.qingtian.network.service;

import java.nio.file.Path;

/**
 * What the network service knows of one NIC's vhost-user export: the socket it recorded,
 * whether the export is serving there now ({@code running} false: it could not be brought
 * back when the service started, e.g. its directory is gone), and whether a front-end is
 * connected to it.
 */
public record NicExportState(Path socket, boolean running, boolean connected) {}
