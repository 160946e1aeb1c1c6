package io.qingtian.trust;

import io.qingtian.acpi.AcpiBlob;
import io.qingtian.trust.attest.Attestor;
import io.qingtian.trust.identity.CardIdentity;
import io.qingtian.trust.image.BootVerdict;
import io.qingtian.trust.image.SecureBootPolicy;
import io.qingtian.trust.image.TrustAnchors;
import io.qingtian.trust.measure.EventLog;
import io.qingtian.trust.measure.HypervisorBuild;
import io.qingtian.trust.measure.MeasuredBoot;
import io.qingtian.trust.measure.MeasurementStore;
import io.qingtian.trust.measure.PcrBank;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The card's root of trust in one object, for the card daemon ({@code qt card run --state DIR
 * --trust PUBLIC_KEY}). At start: {@link #open}. Per instance launch: {@link #prepareLaunch}
 * (with a manifest: secure boot, then measurement of the verified bytes) or {@link
 * #measureUnsigned} (no manifest, no secure boot policy); then {@link InstanceMeasurement#acpiTables}
 * once the hypervisor has generated them, {@link InstanceMeasurement#commit} before the vCPUs
 * run, and {@link InstanceMeasurement#attestor} to answer the guest's attestation requests.
 */
public final class CardTrust {
    private final Path stateDir;
    private final CardIdentity identity;
    private final Optional<SecureBootPolicy> secureBoot;
    private final byte[] hypervisorBuild;
    private final MeasurementStore store;

    private CardTrust(Path stateDir, CardIdentity identity, Optional<SecureBootPolicy> secureBoot, byte[] hypervisorBuild) {
        this.stateDir = stateDir;
        this.identity = identity;
        this.secureBoot = secureBoot;
        this.hypervisorBuild = hypervisorBuild;
        this.store = new MeasurementStore(stateDir);
    }

    /**
     * Loads (or on first start creates) the card identity in {@code stateDir}; {@code trust} (null
     * for none) is the image-signing key file or directory that secure boot enforces; the
     * hypervisor build digest (PCR0) is taken over the jars of this JVM's class path.
     */
    public static CardTrust open(Path stateDir, Path trust, char[] passphrase) throws TrustException {
        CardIdentity id = CardIdentity.loadOrCreate(stateDir, passphrase);
        Optional<SecureBootPolicy> policy = trust == null ? Optional.empty()
                : Optional.of(new SecureBootPolicy(TrustAnchors.load(trust)));
        return new CardTrust(stateDir, id, policy, HypervisorBuild.digest(HypervisorBuild.classPathJars()));
    }

    public CardIdentity identity() {
        return identity;
    }

    public Optional<SecureBootPolicy> secureBoot() {
        return secureBoot;
    }

    public Path stateDir() {
        return stateDir;
    }

    /**
     * Documents about the card itself (no instance): module_id "qt-card-CARDID", PCR0 = this
     * card's build, signed with this boot's attestation key like every instance document.
     */
    public Attestor cardAttestor() {
        return new Attestor(identity, "qt-card-" + identity.cardId(),
                new MeasuredBoot().hypervisor(hypervisorBuild, "card build").pcrs());
    }

    /** What the card does with a launch request. */
    public sealed interface LaunchDecision {
        /** Launch {@code verified.kernel().content()} etc. (these bytes, not the paths). */
        record Approved(BootVerdict.Verified verified, InstanceMeasurement measurement) implements LaunchDecision {}

        /** Do not launch; {@code message} is "FILE: REASON", one line. */
        record Refused(String message) implements LaunchDecision {}
    }

    /**
     * Secure boot for an instance launched with {@code manifest}: refuse when the card has no trust
     * anchors, when verification fails, or when {@code launchCmdline} (null = the manifest's) is
     * not the signed one; else measure the verified bytes.
     */
    public LaunchDecision prepareLaunch(String instance, Path manifest, String launchCmdline) {
        if (secureBoot.isEmpty()) {
            return new LaunchDecision.Refused(manifest + ": the card has no trust anchors (start it with --trust)");
        }
        BootVerdict v = secureBoot.get().verify(manifest);
        if (v instanceof BootVerdict.Refused r) {
            return new LaunchDecision.Refused(r.message());
        }
        BootVerdict.Verified ok = (BootVerdict.Verified) v;
        if (launchCmdline != null) {
            Optional<BootVerdict.Refused> bad = SecureBootPolicy.checkCmdline(ok, manifest, launchCmdline);
            if (bad.isPresent()) {
                return new LaunchDecision.Refused(bad.get().message());
            }
        }
        MeasuredBoot mb = new MeasuredBoot().hypervisor(hypervisorBuild, "hypervisor build").verifiedImage(ok);
        return new LaunchDecision.Approved(ok, new InstanceMeasurement(instance, mb));
    }

    /** Measured (not verified) launch: for instances without a manifest. */
    public InstanceMeasurement measureUnsigned(String instance, MemorySegment kernel, MemorySegment initramfs, String cmdline) {
        MeasuredBoot mb = new MeasuredBoot().hypervisor(hypervisorBuild, "hypervisor build").kernel(kernel, "kernel");
        if (initramfs != null) {
            mb.initramfs(initramfs, "initramfs");
        }
        return new InstanceMeasurement(instance, mb.cmdline(cmdline));
    }

    /** The measurements of one instance, completed by the ACPI tables, then frozen. */
    public final class InstanceMeasurement {
        private final String instance;
        private final MeasuredBoot measured;
        private boolean committed;

        private InstanceMeasurement(String instance, MeasuredBoot measured) {
            this.instance = instance;
            this.measured = measured;
        }

        /**
         * PCR4: the ACPI tables the hypervisor will place in guest memory, computed by the card
         * from the instance's platform ({@code GuestPlatform.forGuest(cpus, memory).tables()}).
         * Pass {@link #acpiPcrHex()} to the hypervisor as {@code --expect-acpi-sha384} so it
         * refuses to run different tables.
         */
        public synchronized InstanceMeasurement acpiTables(AcpiBlob tables) {
            if (committed) {
                throw new IllegalStateException("measurements of " + instance + " are already committed");
            }
            measured.acpiTables(tables);
            return this;
        }

        /** PCR4 as 96 hex digits: the value the hypervisor's own tables must measure to. */
        public String acpiPcrHex() {
            return java.util.HexFormat.of().formatHex(measured.pcrs().value(io.qingtian.trust.measure.Pcr.ACPI_TABLES));
        }

        /** Saves the event log to {@code STATE/measurements/INSTANCE.eventlog.json}; no more extends. */
        public synchronized void commit() throws TrustException {
            store.save(instance, measured.eventLog());
            committed = true;
        }

        public PcrBank pcrs() {
            return measured.pcrs();
        }

        public EventLog eventLog() {
            return measured.eventLog();
        }

        /** Issues documents for this instance; module_id is "qt-card-CARDID/INSTANCE". */
        public Attestor attestor() {
            return new Attestor(identity, "qt-card-" + identity.cardId() + "/" + instance, measured.pcrs());
        }
    }
}
