package io.qingtian.hypervisor.vhostuser;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.UserError;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class VhostUserDeviceSpecTest {
    @Test
    void parsesDiskOptions() {
        VhostUserDeviceSpec d = VhostUserDeviceSpec.parseDisk("socket=/run/a.sock,readonly,queues=4");
        assertThat(d.kind()).isEqualTo(VhostUserDeviceSpec.Kind.BLOCK);
        assertThat(d.socket()).isEqualTo(Path.of("/run/a.sock"));
        assertThat(d.readOnly()).isTrue();
        assertThat(d.queues()).isEqualTo(4);
        assertThat(VhostUserDeviceSpec.parseDisk("socket=/x").readOnly()).isFalse();
    }

    @Test
    void parsesNetOptions() {
        VhostUserDeviceSpec n = VhostUserDeviceSpec.parseNet("socket=/n.sock,mac=52:54:00:ab:CD:ef");
        assertThat(n.mac()).containsExactly(0x52, 0x54, 0x00, 0xab, 0xcd, 0xef);
    }

    @Test
    void rejectsBadInputWithOneLineErrors() {
        assertThatThrownBy(() -> VhostUserDeviceSpec.parseDisk("readonly")).isInstanceOf(UserError.class).hasMessageContaining("socket=PATH");
        assertThatThrownBy(() -> VhostUserDeviceSpec.parseDisk("socket=/x,bogus=1")).isInstanceOf(UserError.class).hasMessageContaining("unknown option 'bogus'");
        assertThatThrownBy(() -> VhostUserDeviceSpec.parseDisk("socket=/x,queues=many")).isInstanceOf(UserError.class);
        assertThatThrownBy(() -> VhostUserDeviceSpec.parseDisk("socket=/x,queues=99")).isInstanceOf(UserError.class);
        assertThatThrownBy(() -> VhostUserDeviceSpec.parseNet("socket=/n,mac=52:54:00:12:34")).isInstanceOf(UserError.class);
        assertThatThrownBy(() -> VhostUserDeviceSpec.parseNet("socket=/n,mac=01:00:5e:00:00:01")).isInstanceOf(UserError.class).hasMessageContaining("multicast");
        assertThatThrownBy(() -> VhostUserDeviceSpec.parseNet("socket=/n,mac=zz:54:00:12:34:56")).isInstanceOf(UserError.class);
        assertThatThrownBy(() -> VhostUserDeviceSpec.parseNet("")).isInstanceOf(UserError.class);
    }
}
