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
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
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

    @Command(name = "request", mixinStandardHelpOptions = true, description = {
            "Ask the running card (STATE/control.sock) for a document signed by its per-boot attestation key:",
            "about INSTANCE's last launch (its PCRs), or without --instance about the card itself (PCR0).",
            "--offline: no card needed; reads STATE directly and signs with a NEW attestation key made for",
            "this one document (never the running card's key; documents from one boot will not share it)."})
    static final class Request implements Runnable {
        @Option(names = "--state", required = true, paramLabel = "DIR") Path state;
        @Option(names = "--nonce", required = true, paramLabel = "HEX") String nonce;
        @Option(names = "--user-data", paramLabel = "FILE") Path userData;
        @Option(names = "--public-key", paramLabel = "FILE") Path publicKey;
        @Option(names = "--instance", paramLabel = "NAME",
                description = "The instance (NAME, or TENANT.NAME when several tenants use NAME); offline: whose "
                        + "STATE/measurements/NAME.eventlog.json. Without it: the card itself (PCR0 only).")
        String instance;
        @Option(names = "--offline", description = "Do not ask the card: read STATE and sign with a one-off attestation key (labelled in the output).")
        boolean offline;
        @Option(names = "--passphrase-file", paramLabel = "FILE", description = "Offline only: the root key's passphrase.") Path passphraseFile;
        @Option(names = "--out", required = true, paramLabel = "DOC") Path out;

        @Override
        public void run() {
            try {
                byte[] n = Hex.parse("--nonce", nonce);
                if (n.length == 0 || n.length > AttestationDocument.MAX_OPTIONAL_FIELD) {
                    throw Cli.error("--nonce must be 1.." + AttestationDocument.MAX_OPTIONAL_FIELD + " bytes", 2);
                }
                byte[] ud = userData == null ? null : KeyFiles.readSmall(userData, AttestationDocument.MAX_OPTIONAL_FIELD);
                byte[] pk = publicKey == null ? null : KeyFiles.readSmall(publicKey, AttestationDocument.MAX_OPTIONAL_FIELD);
                byte[] doc;
                String from;
                if (offline) {
                    CardIdentity id = CardIdentity.loadOrCreate(state, Cli.passphrase(passphraseFile));
                    String name = instance == null ? "default" : instance;
                    Optional<EventLog> log = new MeasurementStore(state).load(name);
                    PcrBank pcrs = log.isPresent() ? log.get().replay()
                            : new MeasuredBoot().hypervisor(HypervisorBuild.digest(HypervisorBuild.classPathJars()), "qt build").pcrs();
                    String module = "qt-card-" + id.cardId() + (log.isPresent() ? "/" + name : "");
                    doc = new Attestor(id, module, pcrs).document(n, ud, pk);
                    from = "OFFLINE (one-off attestation key, not the running card's), module " + module;
                } else {
                    if (passphraseFile != null) {
                        throw Cli.error("--passphrase-file is for --offline (the running card already holds its key)", 2);
                    }
                    ObjectNode req = CardSocket.JSON.createObjectNode().put("op", "attest").put("nonce", Hex.of(n));
                    if (instance != null) {
                        req.put("instance", instance);
                    }
                    if (ud != null) {
                        req.put("userData", Base64.getEncoder().encodeToString(ud));
                    }
                    if (pk != null) {
                        req.put("publicKey", Base64.getEncoder().encodeToString(pk));
                    }
                    JsonNode reply = CardSocket.call(CardSocket.socket(state), req);
                    try {
                        doc = Base64.getDecoder().decode(reply.path("document").asText(""));
                    } catch (IllegalArgumentException e) {
                        throw new TrustException("the card's answer has no valid \"document\"");
                    }
                    if (doc.length == 0) {
                        throw new TrustException("the card's answer has no \"document\"");
                    }
                    from = "the running card" + (instance == null ? "" : ", instance " + instance);
                }
                Files.write(out, doc);
                System.out.println("wrote " + out + " (" + doc.length + " bytes, from " + from + "); root certificate: "
                        + state.resolve("keys/card-root.crt"));
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
