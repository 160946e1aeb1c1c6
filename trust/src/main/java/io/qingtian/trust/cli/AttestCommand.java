package io.qingtian.trust.cli;

import io.qingtian.trust.TrustException;
import io.qingtian.trust.attest.AttestationDocument;
import io.qingtian.trust.attest.AttestationVerifier;
import io.qingtian.trust.attest.Attestor;
import io.qingtian.trust.crypto.Hex;
import io.qingtian.trust.crypto.KeyFiles;
import io.qingtian.trust.identity.CardIdentity;
import io.qingtian.trust.identity.Certificates;
import io.qingtian.trust.measure.EventLog;
import io.qingtian.trust.measure.HypervisorBuild;
import io.qingtian.trust.measure.MeasuredBoot;
import io.qingtian.trust.measure.MeasurementStore;
import io.qingtian.trust.measure.PcrBank;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/** {@code qt attest ...}: issue and check attestation documents. */
@Command(name = "attest", mixinStandardHelpOptions = true, description = "Request and verify attestation documents (COSE_Sign1/ES384, Nitro field set).",
        subcommands = {AttestCommand.Request.class, AttestCommand.Verify.class})
public final class AttestCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "request", mixinStandardHelpOptions = true, description = "Issue a document from the card state DIR (creates the card identity on first use).")
    static final class Request implements Runnable {
        @Option(names = "--state", required = true, paramLabel = "DIR") Path state;
        @Option(names = "--nonce", required = true, paramLabel = "HEX") String nonce;
        @Option(names = "--user-data", paramLabel = "FILE") Path userData;
        @Option(names = "--public-key", paramLabel = "FILE") Path publicKey;
        @Option(names = "--instance", defaultValue = "default", paramLabel = "NAME",
                description = "Whose measurements (STATE/measurements/NAME.eventlog.json); without them only PCR0 (this qt build) is set.")
        String instance;
        @Option(names = "--passphrase-file", paramLabel = "FILE") Path passphraseFile;
        @Option(names = "--out", required = true, paramLabel = "DOC") Path out;

        @Override
        public void run() {
            try {
                byte[] n = Hex.parse("--nonce", nonce);
                byte[] ud = userData == null ? null : KeyFiles.readSmall(userData, AttestationDocument.MAX_OPTIONAL_FIELD);
                byte[] pk = publicKey == null ? null : KeyFiles.readSmall(publicKey, AttestationDocument.MAX_OPTIONAL_FIELD);
                CardIdentity id = CardIdentity.loadOrCreate(state, Cli.passphrase(passphraseFile));
                Optional<EventLog> log = new MeasurementStore(state).load(instance);
                PcrBank pcrs = log.isPresent() ? log.get().replay()
                        : new MeasuredBoot().hypervisor(HypervisorBuild.digest(HypervisorBuild.classPathJars()), "qt build").pcrs();
                String module = "qt-card-" + id.cardId() + (log.isPresent() ? "/" + instance : "");
                byte[] doc = new Attestor(id, module, pcrs).document(n, ud, pk);
                Files.write(out, doc);
                System.out.println("wrote " + out + " (" + doc.length + " bytes, module " + module + "); root certificate: "
                        + id.rootCertificateFile());
            } catch (TrustException e) {
                throw Cli.error(e, 2);
            } catch (IOException e) {
                throw Cli.error(out + ": cannot write: " + e.getMessage(), 2);
            }
        }
    }

    @Command(name = "verify", mixinStandardHelpOptions = true, description = "Check a document: chain to ROOT, signature, nonce, expected PCRs.")
    static final class Verify implements Runnable {
        @Parameters(paramLabel = "DOC") Path doc;
        @Option(names = "--root", required = true, paramLabel = "CERT", description = "The card root certificate (PEM) to trust.") Path root;
        @Option(names = "--nonce", required = true, paramLabel = "HEX") String nonce;
        @Option(names = "--pcr", paramLabel = "INDEX=HEX", description = "An expected PCR value (repeatable).") List<String> pcrs = List.of();

        @Override
        public void run() {
            try {
                byte[] n = Hex.parse("--nonce", nonce);
                Map<Integer, byte[]> expected = new TreeMap<>();
                for (String p : pcrs) {
                    int eq = p.indexOf('=');
                    int idx;
                    try {
                        idx = eq < 0 ? -1 : Integer.parseInt(p.substring(0, eq));
                    } catch (NumberFormatException e) {
                        idx = -1;
                    }
                    if (idx < 0 || idx > AttestationDocument.MAX_PCR_INDEX) {
                        throw Cli.error("--pcr " + p + ": expected INDEX=HEX with INDEX 0..31", 2);
                    }
                    expected.put(idx, Hex.parse("--pcr " + idx, p.substring(eq + 1)));
                }
                var rootCert = Certificates.parsePem(root.toString(), KeyFiles.readSmall(root, 64 * 1024));
                byte[] bytes = KeyFiles.readSmall(doc, AttestationVerifier.MAX_DOCUMENT);
                AttestationDocument d = AttestationVerifier.verify(bytes, rootCert, n, expected, Instant.now());
                System.out.println("OK " + doc + ": module " + d.moduleId() + ", " + Instant.ofEpochMilli(d.timestamp())
                        + ", nonce matches" + (expected.isEmpty() ? "" : ", PCR " + expected.keySet() + " match"));
            } catch (TrustException e) {
                throw Cli.error(e, Cli.REFUSED);
            }
        }
    }
}
