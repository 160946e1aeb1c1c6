package io.qingtian.hypervisor.vhostuser;

import io.qingtian.sys.UserError;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Locale;

/**
 * One device served over vhost-user, as the user named it on the command line:
 * {@code --disk socket=PATH[,readonly][,queues=N]} or {@code --net socket=PATH[,mac=52:54:00:12:34:56]}.
 *
 * @param kind     block or network
 * @param socket   the back-end's listening unix socket
 * @param readOnly block only: offer VIRTIO_BLK_F_RO to the guest
 * @param queues   block only: at most this many request queues (0 = as many as the back-end has)
 * @param mac      network only: the MAC the guest sees (null = ask the back-end's config)
 */
public record VhostUserDeviceSpec(Kind kind, Path socket, boolean readOnly, int queues, byte[] mac) {
    public enum Kind {
        BLOCK(2, "virtio-blk"), NET(1, "virtio-net");

        public final int deviceType;
        public final String label;

        Kind(int deviceType, String label) {
            this.deviceType = deviceType;
            this.label = label;
        }
    }

    public VhostUserDeviceSpec {
        if (socket == null) {
            throw new UserError("a vhost-user device needs socket=PATH");
        }
        if (queues < 0 || queues > 64) {
            throw new UserError("queues must be 1..64: " + queues);
        }
        mac = mac == null ? null : mac.clone();
    }

    /** Parses the value of {@code --disk}. */
    public static VhostUserDeviceSpec parseDisk(String text) {
        Path socket = null;
        boolean ro = false;
        int queues = 0;
        for (String part : parts(text, "--disk")) {
            String[] kv = part.split("=", 2);
            switch (kv[0].toLowerCase(Locale.ROOT)) {
                case "socket", "path" -> socket = Path.of(value(kv, "--disk"));
                case "readonly", "ro" -> ro = kv.length == 1 || Boolean.parseBoolean(kv[1]) || kv[1].equals("on");
                case "queues", "num-queues" -> queues = parseInt(value(kv, "--disk"), "--disk queues");
                default -> throw new UserError("--disk: unknown option '" + kv[0] + "' (use socket=PATH[,readonly][,queues=N])");
            }
        }
        if (socket == null) {
            throw new UserError("--disk needs socket=PATH: '" + text + "'");
        }
        return new VhostUserDeviceSpec(Kind.BLOCK, socket, ro, queues, null);
    }

    /** Parses the value of {@code --net}. */
    public static VhostUserDeviceSpec parseNet(String text) {
        Path socket = null;
        byte[] mac = null;
        for (String part : parts(text, "--net")) {
            String[] kv = part.split("=", 2);
            switch (kv[0].toLowerCase(Locale.ROOT)) {
                case "socket", "path" -> socket = Path.of(value(kv, "--net"));
                case "mac" -> mac = parseMac(value(kv, "--net"));
                default -> throw new UserError("--net: unknown option '" + kv[0] + "' (use socket=PATH[,mac=XX:XX:XX:XX:XX:XX])");
            }
        }
        if (socket == null) {
            throw new UserError("--net needs socket=PATH: '" + text + "'");
        }
        return new VhostUserDeviceSpec(Kind.NET, socket, false, 0, mac);
    }

    static byte[] parseMac(String s) {
        String[] octets = s.split(":");
        if (octets.length != 6) {
            throw new UserError("bad MAC address '" + s + "': use six hex octets like 52:54:00:12:34:56");
        }
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) {
            if (octets[i].length() != 2) {
                throw new UserError("bad MAC address '" + s + "'");
            }
            try {
                mac[i] = (byte) HexFormat.fromHexDigits(octets[i]);
            } catch (IllegalArgumentException e) {
                throw new UserError("bad MAC address '" + s + "'");
            }
        }
        if ((mac[0] & 1) != 0) {
            throw new UserError("MAC address '" + s + "' is multicast; a NIC needs a unicast address");
        }
        return mac;
    }

    private static String[] parts(String text, String option) {
        if (text == null || text.isBlank()) {
            throw new UserError(option + " needs a value");
        }
        return text.split(",");
    }

    private static String value(String[] kv, String option) {
        if (kv.length < 2 || kv[1].isEmpty()) {
            throw new UserError(option + ": '" + kv[0] + "' needs a value");
        }
        return kv[1];
    }

    private static int parseInt(String s, String what) {
        try {
            return Integer.parseInt(s);
        } catch (NumberFormatException e) {
            throw new UserError(what + " must be a number: '" + s + "'");
        }
    }

    @Override
    public byte[] mac() {
        return mac == null ? null : mac.clone();
    }

    public String describe() {
        return kind.label + " on " + socket;
    }
}
