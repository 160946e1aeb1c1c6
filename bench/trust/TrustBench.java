import io.qingtian.trust.attest.AttestationVerifier;
import io.qingtian.trust.attest.Attestor;
import io.qingtian.trust.crypto.Ed25519;
import io.qingtian.trust.identity.CardIdentity;
import io.qingtian.trust.image.BootVerdict;
import io.qingtian.trust.image.ManifestSigner;
import io.qingtian.trust.image.SecureBootPolicy;
import io.qingtian.trust.image.TrustAnchors;
import io.qingtian.trust.measure.MeasuredBoot;

import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.time.Instant;
import java.util.Arrays;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

/**
 * A scripted benchmark (bench/trust/run.sh): secure boot + measurement of a 10 MiB kernel and a
 * 10 MiB initramfs, and attestation document create/verify latency. Prints medians and p99.
 */
public class TrustBench {
    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("qt-bench");
        Random r = new Random(1);
        byte[] k = new byte[10 << 20];
        byte[] i = new byte[10 << 20];
        r.nextBytes(k);
        r.nextBytes(i);
        Files.write(dir.resolve("vmlinuz"), k);
        Files.write(dir.resolve("initrd"), i);
        KeyPair key = Ed25519.generate();
        Path manifest = dir.resolve("boot.json");
        ManifestSigner.sign(key.getPrivate(), dir.resolve("vmlinuz"), Optional.of(dir.resolve("initrd")), "console=ttyS0", manifest);
        SecureBootPolicy policy = new SecureBootPolicy(TrustAnchors.of("k", key.getPublic()));

        long[] verify = new long[15];
        long[] measure = new long[15];
        for (int n = 0; n < verify.length; n++) {
            long t0 = System.nanoTime();
            BootVerdict v = policy.verify(manifest);
            new MeasuredBoot().hypervisor(new byte[48], "b").verifiedImage((BootVerdict.Verified) v);
            long t1 = System.nanoTime();
            new MeasuredBoot().kernel(java.lang.foreign.MemorySegment.ofArray(k), "k")
                    .initramfs(java.lang.foreign.MemorySegment.ofArray(i), "i");
            long t2 = System.nanoTime();
            verify[n] = t1 - t0;
            measure[n] = t2 - t1;
        }
        report("secure boot verify + measure (read+hash 20 MiB, Ed25519)", verify, 5);
        report("measure kernel+initramfs in memory (SHA-384, 20 MiB)", measure, 5);

        CardIdentity id = CardIdentity.loadOrCreate(dir.resolve("state"), null);
        var pcrs = new MeasuredBoot().kernel(java.lang.foreign.MemorySegment.ofArray(new byte[64]), "k").pcrs();
        Attestor att = new Attestor(id, "bench", pcrs);
        byte[] nonce = new byte[32];
        int n = 2000;
        long[] create = new long[n];
        long[] check = new long[n];
        byte[] doc = null;
        for (int j = 0; j < n; j++) {
            long t0 = System.nanoTime();
            doc = att.document(nonce, null, null);
            long t1 = System.nanoTime();
            AttestationVerifier.verify(doc, id.rootCertificate(), nonce, Map.of(1, pcrs.value(1)), Instant.now());
            long t2 = System.nanoTime();
            create[j] = t1 - t0;
            check[j] = t2 - t1;
        }
        report("attestation document create (COSE_Sign1 ES384)", create, 500);
        report("attestation document verify (chain+signature+PCR)", check, 500);
        System.out.println("document size: " + doc.length + " bytes");
    }

    static void report(String what, long[] ns, int warmup) {
        long[] s = Arrays.copyOfRange(ns, warmup, ns.length);
        Arrays.sort(s);
        System.out.printf("%-55s median %8.3f ms  p99 %8.3f ms  (n=%d)%n", what, s[s.length / 2] / 1e6,
                s[Math.min(s.length - 1, (int) (s.length * 0.99))] / 1e6, s.length);
    }
}
