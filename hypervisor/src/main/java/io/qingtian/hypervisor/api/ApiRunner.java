package io.qingtian.hypervisor.api;

import io.qingtian.hypervisor.Console;
import io.qingtian.hypervisor.ExitStatus;
import io.qingtian.hypervisor.VmExit;
import io.qingtian.hypervisor.snapshot.VmSnapshot;
import io.qingtian.sys.UserError;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * {@code qt hypervisor run --api-sock PATH} and/or {@code --config-file PATH}: the process
 * lives as Firecracker's does. With a config file (or boot flags) the VM boots at once;
 * otherwise it waits for its configuration and InstanceStart over the API. The process ends
 * when the VM ends, with the VM's exit status (the same codes as {@code qt hypervisor run}).
 */
public final class ApiRunner {
    private ApiRunner() {}

    /**
     * @param apiSock     where to serve the API, or null (config file only)
     * @param configFile  Firecracker-format JSON to boot from, or null
     * @param preset      boot settings from command-line flags applied before start, or null
     * @param timeoutSeconds stop the VM after this long, or null
     */
    public static int run(Path apiSock, Path configFile, Consumer<VmmController> preset, String id, Console console,
                          Long timeoutSeconds, String bootWarning, PrintStream err) throws InterruptedException {
        return run(apiSock, configFile, preset, id, console, timeoutSeconds, bootWarning, err, System.nanoTime());
    }

    /**
     * {@link #run(Path, Path, Consumer, String, Console, Long, String, PrintStream)} with
     * {@code --timeout} counted from {@code startNanos} (the start of the command): the build of
     * a configured VM counts, and a build still running at the deadline ends the run with
     * STOPPED like a VM still running. The caller arms the process's exit guard
     * ({@code HypervisorCommand.armExitGuard}) for a stop that itself hangs.
     */
    public static int run(Path apiSock, Path configFile, Consumer<VmmController> preset, String id, Console console,
                          Long timeoutSeconds, String bootWarning, PrintStream err, long startNanos) throws InterruptedException {
        long deadline = timeoutSeconds == null ? 0 : io.qingtian.hypervisor.HypervisorCommand.deadline(startNanos, timeoutSeconds);
        VmmController vmm = new VmmController(id == null ? "anonymous-instance" : id, console);
        vmm.onEvent(e -> err.println("qt: " + e));
        FirecrackerApi api = new FirecrackerApi(vmm);
        ApiServer server = null;
        Thread hook = null;
        boolean buildAbandoned = false;
        try {
            if (configFile != null) {
                ConfigFile.apply(configFile, api);
            }
            if (preset != null) {
                try {
                    preset.accept(vmm);
                } catch (ApiException e) {
                    throw new UserError(e.getMessage());
                }
            }
            if (apiSock != null) {
                server = ApiServer.start(apiSock, api);
                ApiServer s = server;
                hook = new Thread(s::close, "api-socket-cleanup");
                Runtime.getRuntime().addShutdownHook(hook);
            }
            if (configFile == null && preset == null) {
                // Waiting for the API: warm up the restore path meanwhile (see VmSnapshot.prewarm),
                // then make the KVM VM a snapshot load would build on (QT_RESTORE_STANDBY=0: not).
                boolean standby = !"0".equals(System.getenv("QT_RESTORE_STANDBY"));
                Thread.ofPlatform().daemon().name("restore-prewarm").start(() -> {
                    VmSnapshot.prewarm();
                    if (standby) {
                        try {
                            vmm.offerStandby(io.qingtian.hypervisor.VmBuilder.Shell.create());
                        } catch (RuntimeException ignored) {
                            // no standby: a load makes its own VM
                        }
                    }
                });
            }
            if (configFile != null || preset != null) {
                if (bootWarning != null) {
                    err.println(bootWarning); // only once the configuration is known to be good
                }
                try {
                    if (timeoutSeconds == null) {
                        vmm.start();
                    } else {
                        // The build may wait for a back-end that never answers: bounded like the rest.
                        io.qingtian.sys.BoundedCall.call("vm-build", deadline, () -> {
                            vmm.start();
                            return null;
                        }, x -> { });
                    }
                } catch (ApiException e) {
                    throw new UserError(e.getMessage());
                } catch (TimeoutException e) {
                    // The build still holds the controller's lock: closing it would wait for the
                    // build. The process ends with this status; its exit releases the rest.
                    buildAbandoned = true;
                    VmExit exit = new VmExit(ExitStatus.STOPPED, -1, "stopped after the " + timeoutSeconds
                            + " s timeout while the VM was still being built (" + e.getMessage() + ")");
                    err.println("qt: " + exit.detail() + " (exit status " + exit.code() + ")");
                    return exit.code();
                }
            }
            VmExit exit;
            try {
                exit = timeoutSeconds == null ? vmm.ended().get()
                        : vmm.ended().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (TimeoutException e) {
                exit = new VmExit(ExitStatus.STOPPED, -1, "stopped after the " + timeoutSeconds + " s timeout");
                vmm.shutdown(exit.detail());
            } catch (ExecutionException e) {
                exit = new VmExit(ExitStatus.HYPERVISOR_ERROR, -1, "VM watcher failed: " + e.getCause());
            }
            if (exit.status() != ExitStatus.POWEROFF) {
                err.println("qt: " + exit.detail() + " (exit status " + exit.code() + ")");
            }
            return exit.code();
        } catch (java.io.IOException e) {
            throw new UserError("cannot serve the API: " + e.getMessage());
        } finally {
            if (server != null) {
                server.close();
            }
            if (hook != null) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException ignored) {
                    // already shutting down
                }
            }
            if (!buildAbandoned) {
                vmm.close();
            }
        }
    }
}
