package io.qingtian.card.instance;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExitReasonTest {
    @Test
    void decodesTheHypervisorsExitStatuses() {
        assertThat(ExitReason.of(0, false).meaning()).contains("powered off");
        assertThat(ExitReason.of(0, false).failure()).isFalse();
        assertThat(ExitReason.of(4, false).meaning()).contains("crashed");
        assertThat(ExitReason.of(4, false).failure()).isTrue();
        assertThat(ExitReason.of(5, false).meaning()).contains("KVM");
        assertThat(ExitReason.of(3, false).meaning()).contains("reboot");
    }

    @Test
    void aRefusedSetupKeepsTheHypervisorsMessageAndIsNotRestarted() {
        ExitReason r = ExitReason.refused("PUT /boot-source: 400 boot-source: no such file /k");
        assertThat(r.code()).isEqualTo(2);
        assertThat(r.meaning()).contains("refused its configuration");
        assertThat(r.detail()).contains("no such file /k");
        assertThat(ExitReason.of(0, false).detail()).isNull();
    }

    @Test
    void decodesSignalsAndSeccompKills() {
        ExitReason k = ExitReason.of(137, false);
        assertThat(k.signal()).isEqualTo(9);
        assertThat(k.meaning()).contains("SIGKILL");
        assertThat(ExitReason.of(159, false).meaning()).contains("SIGSYS").contains("seccomp");
        assertThat(ExitReason.of(143, true).failure()).isFalse(); // a requested stop is not a failure
    }

    @Test
    void backoffGrowsAndIsCapped() {
        assertThat(RestartPolicy.backoffMillis(0)).isEqualTo(1000);
        assertThat(RestartPolicy.backoffMillis(2)).isEqualTo(4000);
        assertThat(RestartPolicy.backoffMillis(40)).isEqualTo(30_000);
    }

    @Test
    void confinementPrefixJoinsTheCgroupSwitchesUidAndUnsharesMounts() {
        Confinement c = new Confinement(true, 640_000, 108);
        List<String> cmd = c.command(3, null, List.of("java", "-version"));
        assertThat(cmd).containsSubsequence("unshare", "--mount", "--propagation", "private", "--",
                "setpriv", "--reuid=640003", "--regid=108", "--clear-groups", "--no-new-privs");
        assertThat(cmd.subList(cmd.size() - 2, cmd.size())).containsExactly("java", "-version");
        assertThat(new Confinement(false, 1, 1).command(0, null, List.of("x"))).doesNotContain("setpriv");
        HypervisorLauncher l = new HypervisorLauncher(List.of("qt"));
        assertThat(l.command(Path.of("/s/api.sock"), "t1.web"))
                .containsExactly("qt", "hypervisor", "run", "--api-sock", "/s/api.sock", "--id", "t1.web", "--seccomp");
    }
}
