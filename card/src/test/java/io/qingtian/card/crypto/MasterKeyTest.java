package io.qingtian.card.crypto;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.util.Base64;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MasterKeyTest {
    @TempDir
    Path tmp;

    @Test
    void wrappedKeysUnwrapOnlyForTheirVolumeAndOnlyUnaltered() throws Exception {
        MasterKey mk = MasterKey.loadOrCreate(tmp.resolve("keys"));
        byte[] key = new byte[64];
        for (int i = 0; i < key.length; i++) {
            key[i] = (byte) i;
        }
        String w = mk.wrap("vol", key);
        assertThat(w).isNotEqualTo(mk.wrap("vol", key)); // fresh nonce per wrap
        assertThat(mk.unwrap("vol", w)).isEqualTo(key);
        assertThatThrownBy(() -> mk.unwrap("other", w)).isInstanceOf(GeneralSecurityException.class);
        byte[] raw = Base64.getDecoder().decode(w);
        raw[20] ^= 1;
        String tampered = Base64.getEncoder().encodeToString(raw);
        assertThatThrownBy(() -> mk.unwrap("vol", tampered)).isInstanceOf(GeneralSecurityException.class);
        assertThatThrownBy(() -> mk.unwrap("vol", "AAAA")).isInstanceOf(GeneralSecurityException.class);
        // The same key file on the next start unwraps what the previous one wrapped.
        assertThat(MasterKey.loadOrCreate(tmp.resolve("keys")).unwrap("vol", w)).isEqualTo(key);
        assertThat(Files.getPosixFilePermissions(tmp.resolve("keys"))).isEqualTo(PosixFilePermissions.fromString("rwx------"));
    }

    @Test
    void refusesAMasterKeyOthersCanRead() throws Exception {
        MasterKey.loadOrCreate(tmp.resolve("keys"));
        Files.setPosixFilePermissions(tmp.resolve("keys/master.key"), PosixFilePermissions.fromString("rw-r--r--"));
        assertThatThrownBy(() -> MasterKey.loadOrCreate(tmp.resolve("keys"))).isInstanceOf(IOException.class)
                .hasMessageContaining("chmod 600");
    }
}
