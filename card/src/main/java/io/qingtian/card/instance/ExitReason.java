package io.qingtian.card.instance;

/**
 * Why a hypervisor process ended, decoded from its exit status: the codes of
 * {@code io.qingtian.hypervisor.ExitStatus} (0 poweroff/halt, 1 hypervisor error, 2 bad input,
 * 3 guest reboot, 4 guest crash, 5 KVM internal error, 6 stopped) or 128+N for signal N (what
 * Java's {@link Process#exitValue()} reports for a killed child; SIGSYS = seccomp).
 *
 * @param requested the card stopped it (stop, reboot, delete, card shutdown)
 * @param detail    what the hypervisor's API said when it refused its setup (Firecracker's
 *                  {@code fault_message}, prefixed with the request), or null
 */
public record ExitReason(int code, Integer signal, String meaning, boolean requested, String time, String detail) {
    /** Code 2: the hypervisor answered a setup request with a fault; the card then ended the process. */
    public static final int REFUSED = 2;

    public static ExitReason of(int code, boolean requested) {
        return of(code, requested, null);
    }

    /** The hypervisor refused a setup request ({@code detail}, e.g. "PUT /boot-source: 400 ..."); the card ended it. */
    public static ExitReason refused(String detail) {
        return of(REFUSED, false, detail);
    }

    public static ExitReason of(int code, boolean requested, String detail) {
        Integer sig = code > 128 && code < 128 + 65 ? code - 128 : null;
        String meaning;
        if (sig != null) {
            meaning = "killed by signal " + sig + " (" + signalName(sig) + ")"
                    + (sig == 31 ? ": a forbidden system call (seccomp)" : "");
        } else {
            meaning = switch (code) {
                case 0 -> "guest powered off or halted";
                case 1 -> "hypervisor error";
                case 2 -> "hypervisor refused its configuration";
                case 3 -> "guest asked to reboot";
                case 4 -> "guest crashed (triple fault)";
                case 5 -> "KVM could not run the guest";
                case 6 -> "stopped by the host";
                default -> "exit status " + code;
            };
        }
        return new ExitReason(code, sig, meaning, requested, java.time.Instant.now().toString(), detail);
    }

    /** Worth a restart under {@link RestartPolicy#ON_FAILURE}. */
    public boolean failure() {
        return !requested && code != 0;
    }

    static String signalName(int sig) {
        return switch (sig) {
            case 1 -> "SIGHUP";
            case 2 -> "SIGINT";
            case 6 -> "SIGABRT";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 15 -> "SIGTERM";
            case 31 -> "SIGSYS";
            default -> "signal " + sig;
        };
    }
}
