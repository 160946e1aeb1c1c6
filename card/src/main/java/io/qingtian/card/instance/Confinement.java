package io.qingtian.card.instance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * How a hypervisor process is confined, built as a command prefix (util-linux tools, no native
 * fork/exec code in the card):
 * <pre>
 * sh -c 'echo $$ &gt; CG/cgroup.procs ...; exec "$@"' sh \
 *   unshare --mount --propagation private -- \
 *   setpriv --reuid UID --regid GID --clear-groups --no-new-privs --inh-caps=-all -- \
 *   java ... io.qingtian.cli.Qt hypervisor run ... --seccomp
 * </pre>
 * Each step execs the next, so the pid the card supervises is the hypervisor's. The uid is
 * {@code uidBase + slot} (one per instance, never a login user: no /etc/passwd entry is needed
 * for setpriv); the gid is the group owning /dev/kvm, so the only privilege left is opening it.
 */
public record Confinement(boolean enabled, int uidBase, int kvmGid) {
    public static final int DEFAULT_UID_BASE = 640_000;

    /** Confinement as root (uid switching and cgroups need it); off otherwise, said so by the card. */
    public static Confinement detect(int uidBase) {
        boolean root = "root".equals(System.getProperty("user.name"));
        return new Confinement(root, uidBase, lookupKvmGid());
    }

    static int lookupKvmGid() {
        try {
            Object gid = Files.getAttribute(Path.of("/dev/kvm"), "unix:gid");
            return (Integer) gid;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return 0;
        }
    }

    public int uid(int slot) {
        return uidBase + slot;
    }

    /** The full command: the confinement prefix (if enabled) then {@code hypervisor}. */
    public List<String> command(int slot, Cgroup cgroup, List<String> hypervisor) {
        List<String> cmd = new ArrayList<>();
        StringBuilder script = new StringBuilder();
        if (cgroup != null) {
            for (Path p : cgroup.procsFiles()) {
                script.append("echo $$ > '").append(p).append("' || exit 125; ");
            }
        }
        script.append("exec \"$@\"");
        cmd.add("/bin/sh");
        cmd.add("-c");
        cmd.add(script.toString());
        cmd.add("qt-launch");
        if (enabled) {
            cmd.addAll(List.of("unshare", "--mount", "--propagation", "private", "--"));
            cmd.addAll(List.of("setpriv", "--reuid=" + uid(slot), "--regid=" + kvmGid, "--clear-groups",
                    "--no-new-privs", "--inh-caps=-all", "--bounding-set=-all", "--"));
        }
        cmd.addAll(hypervisor);
        return cmd;
    }
}
