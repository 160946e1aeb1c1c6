package io.qingtian.card.control;

import io.qingtian.card.control.ControlRequest.CreateVolume;
import io.qingtian.card.control.ControlRequest.DeleteVolume;
import io.qingtian.card.control.ControlRequest.ExportVolume;
import io.qingtian.card.control.ControlRequest.ImportVolume;
import io.qingtian.card.control.ControlRequest.ListVolumes;
import io.qingtian.card.control.ControlRequest.ResizeVolume;
import io.qingtian.card.control.ControlRequest.Status;
import io.qingtian.card.control.ControlRequest.UnexportVolume;
import io.qingtian.card.control.ControlResponse.Failure;
import io.qingtian.card.control.ControlResponse.Ok;
import io.qingtian.card.control.ControlResponse.Volumes;
import io.qingtian.card.nbd.NbdTarget;
import io.qingtian.card.volume.Sizes;
import io.qingtian.card.volume.VolumeManager;
import io.qingtian.card.volume.VolumeMeta;
import io.qingtian.sys.UserError;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Base64;
import java.util.logging.Level;
import java.util.logging.Logger;

/** Turns control requests into volume operations and every outcome into a response (never an exception). */
public final class ControlService {
    private static final Logger LOG = Logger.getLogger(ControlService.class.getName());
    private final VolumeManager volumes;
    private final String statusLine;

    public ControlService(VolumeManager volumes, String statusLine) {
        this.volumes = volumes;
        this.statusLine = statusLine;
    }

    public ControlResponse handle(ControlRequest request) {
        try {
            return switch (request) {
                case Status s -> new Ok(statusLine);
                case CreateVolume c -> create(c);
                case ListVolumes l -> new Volumes(volumes.list());
                case ResizeVolume r -> {
                    VolumeMeta m = volumes.resize(r.name(), r.sizeBytes());
                    yield new Ok("volume " + m.name() + " resized to " + Sizes.human(m.sizeBytes()));
                }
                case DeleteVolume d -> {
                    volumes.delete(d.name());
                    yield new Ok("volume " + d.name() + " deleted");
                }
                case ExportVolume e -> {
                    volumes.export(e.name(), absolute(e.socket(), "socket"), e.queues(), e.readOnly());
                    yield new Ok("volume " + e.name() + " exported at " + e.socket());
                }
                case UnexportVolume u -> {
                    volumes.unexport(u.name());
                    yield new Ok("volume " + u.name() + " unexported");
                }
                case ImportVolume i -> {
                    long n = volumes.importImage(i.name(), absolute(i.source(), "source"));
                    yield new Ok("imported " + n + " bytes into volume " + i.name() + " (flushed)");
                }
            };
        } catch (UserError e) {
            return new Failure(e.getMessage());
        } catch (IOException e) {
            LOG.log(Level.WARNING, "control request " + request.getClass().getSimpleName() + " failed", e);
            return new Failure(e.getMessage() == null ? e.toString() : e.getMessage());
        } catch (RuntimeException e) {
            LOG.log(Level.SEVERE, "control request " + request.getClass().getSimpleName() + " hit a bug", e);
            return new Failure("internal error: " + e);
        }
    }

    private ControlResponse create(CreateVolume c) throws IOException {
        byte[] key = null;
        if (c.key() != null) {
            try {
                key = Base64.getDecoder().decode(c.key());
            } catch (IllegalArgumentException e) {
                throw new UserError("key is not base64");
            }
        }
        VolumeMeta.Qos qos = null;
        if (c.iops() != null || c.bandwidth() != null) {
            qos = new VolumeMeta.Qos(zero(c.iops()), zero(c.iopsBurst()), zero(c.bandwidth()), zero(c.bandwidthBurst()));
        }
        NbdTarget nbd = c.nbd() == null ? null : NbdTarget.parse(c.nbd());
        VolumeMeta m = volumes.create(new VolumeManager.CreateSpec(c.name(), c.sizeBytes(), c.encrypt(), key, nbd, qos));
        return new Ok("volume " + m.name() + " created (" + Sizes.human(m.sizeBytes())
                + (m.encryption() != null ? ", aes-xts-plain64" : "") + ")");
    }

    private static long zero(Long v) {
        return v == null ? 0 : v;
    }

    private static Path absolute(String p, String what) {
        if (p == null || p.isEmpty() || !Path.of(p).isAbsolute()) {
            throw new UserError(what + " path must be absolute: " + p);
        }
        return Path.of(p).normalize();
    }
}
