package io.qingtian.e2e.trust;

import static org.assertj.core.api.Assertions.assertThat;

import io.qingtian.acpi.GuestPlatform;
import io.qingtian.e2e.GuestInit;
import io.qingtian.e2e.L2Runs;
import io.qingtian.lab.GuestInitramfs;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.Sha384;
import io.qingtian.trust.measure.EventLog;
import io.qingtian.trust.measure.MeasuredBoot;
import io.qingtian.trust.measure.MeasurementEvent;
import io.qingtian.trust.measure.Pcr;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The card's ACPI measurement is what the guest really gets (issue 7). On the host the card's
 * trust code measures the tables of a 2-vCPU, 256 MiB instance into PCR4 (one event per table);
 * inside the lab the hypervisor runs that instance with {@code --expect-acpi-sha384 PCR4}, and the
 * guest prints each table Linux exposes in /sys/firmware/acpi/tables (byte for byte, as found in
 * guest memory). Every exposed table must hash to its event-log entry. A second hypervisor is
 * given the PCR4 of another shape and must refuse to start (exit status 2). The same guest's
 * dmesg also shows whether the kernel accepted the XSAVE layout (no "XSAVE consistency problem").
 */
@Tag("lab")
class AcpiMeasurementLabTest {
    static final String MARKER = GuestInitramfs.DEFAULT_MARKER;
    static final String INIT = GuestInit.MOUNTS + """
            echo "%s"
            for t in /sys/firmware/acpi/tables/*; do
              [ -f "$t" ] && echo "acpi-table $(basename "$t") $(base64 "$t" | tr -d '\\n')"
            done
            echo "xsave-warnings=$(dmesg | grep -c 'XSAVE consistency problem')"
            echo "nproc=$(nproc)"
            poweroff -f
            """.formatted(MARKER);
    static final int CPUS = 2;
    static final long MEMORY = 256L << 20;

    static EventLog cardLog;
    static String pcr4;
    static L2Runs.Result runs;

    @BeforeAll
    static void measureThenBoot(@TempDir Path tmp) throws Exception {
        MeasuredBoot card = new MeasuredBoot().acpiTables(GuestPlatform.forGuest(CPUS, MEMORY).tables());
        cardLog = EventLog.parse("card", card.eventLog().toJson()); // as stored in STATE/measurements
        pcr4 = Hex.of(card.pcrs().value(Pcr.ACPI_TABLES));
        String otherPcr4 = Hex.of(new MeasuredBoot().acpiTables(GuestPlatform.forGuest(CPUS + 1, MEMORY).tables())
                .pcrs().value(Pcr.ACPI_TABLES));

        String run = L2Runs.HYPERVISOR_RUN + " --cpus " + CPUS + " --cmdline 'console=ttyS0 panic=1 quiet'";
        runs = new L2Runs()
                .add("measured", run + " --expect-acpi-sha384 " + pcr4)
                .add("other", run + " --expect-acpi-sha384 " + otherPcr4 + " 2>&1")
                .run(tmp, INIT, Duration.ofMinutes(10), "acpi measurement");
    }

    static String section(String name) {
        return runs.section(name);
    }

    static int rc(String name) {
        return runs.rc(name);
    }

    /** Signature -> SHA-384 hex of each table the guest printed. */
    static Map<String, String> guestTables() {
        Map<String, String> out = new LinkedHashMap<>();
        Matcher m = Pattern.compile("acpi-table (\\w{4}) ([A-Za-z0-9+/=]+)").matcher(section("measured"));
        while (m.find()) {
            out.put(m.group(1), Hex.of(Sha384.of(Base64.getDecoder().decode(m.group(2)))));
        }
        return out;
    }

    /** Signature -> SHA-384 hex of each ACPI event in the card's log. */
    static Map<String, String> cardTables() {
        Map<String, String> out = new LinkedHashMap<>();
        for (MeasurementEvent e : cardLog.events()) {
            if (e.type() == MeasurementEvent.Type.ACPI_TABLE) {
                out.put(e.description().substring(0, 4), Hex.of(e.digest()));
            }
        }
        return out;
    }

    @Test
    void theGuestBootsWithTheMeasuredTables() {
        assertThat(section("measured")).contains(MARKER).contains("nproc=" + CPUS);
        assertThat(rc("measured")).isZero();
    }

    @Test
    void everyTableTheGuestSeesMatchesTheCardsEventLog() {
        Map<String, String> guest = guestTables();
        Map<String, String> card = cardTables();
        // Linux exposes the tables it installed (FADT as FACP, its FACS and DSDT, and the XSDT's
        // entries); the RSDP, RSDT and XSDT themselves are not in sysfs.
        assertThat(guest.keySet()).contains("FACP", "FACS", "APIC", "DSDT", "MCFG");
        for (Map.Entry<String, String> t : guest.entrySet()) {
            assertThat(card).as("the card measured %s", t.getKey()).containsKey(t.getKey());
            assertThat(t.getValue()).as("%s as the guest reads it vs the card's event", t.getKey()).isEqualTo(card.get(t.getKey()));
        }
        assertThat(Hex.of(cardLog.replay().value(Pcr.ACPI_TABLES))).isEqualTo(pcr4);
    }

    @Test
    void aHypervisorToldAnotherMeasurementRefusesToStart() {
        assertThat(rc("other")).isEqualTo(2);
        assertThat(section("other")).contains("ACPI tables differ from what the card measured").doesNotContain(MARKER);
    }

    @Test
    void theGuestKernelAcceptsTheXsaveLayout() {
        assertThat(section("measured")).contains("xsave-warnings=0");
    }
}
