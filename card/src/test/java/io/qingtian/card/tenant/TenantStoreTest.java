package io.qingtian.card.tenant;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TenantStoreTest {
    @TempDir
    Path dir;

    @Test
    void firstStartWritesOneAdminTokenThatAuthenticatesAsOperator() throws Exception {
        TenantStore s = new TenantStore(dir);
        String admin = Files.readString(dir.resolve("admin.token")).trim();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("admin.token")))).isEqualTo("rw-------");
        assertThat(s.authenticate(admin)).hasValueSatisfying(p -> assertThat(p.admin()).isTrue());
        new TenantStore(dir); // a restart keeps the same operator token
        assertThat(Files.readString(dir.resolve("admin.token")).trim()).isEqualTo(admin);
    }

    @Test
    void storesOnlyTheHashOfTokensAndSurvivesRestart() throws Exception {
        TenantStore s = new TenantStore(dir);
        Tenant t = s.createTenant("alice");
        String token = s.issue(t.id());
        String secret = token.substring(token.indexOf('_', 3) + 1);
        assertThat(secret).hasSize(43); // 32 bytes, base64url
        assertThat(Files.readString(dir.resolve("tenants.json"))).doesNotContain(secret).contains(TenantStore.sha256(secret));
        TenantStore again = new TenantStore(dir);
        assertThat(again.authenticate(token)).hasValueSatisfying(p -> assertThat(p.tenantId()).isEqualTo(t.id()));
    }

    @Test
    void rejectsTamperedUnknownAndMalformedTokens() throws Exception {
        TenantStore s = new TenantStore(dir);
        String token = s.issue(s.createTenant("bob").id());
        assertThat(s.authenticate(token + "A")).isEmpty();
        assertThat(s.authenticate(token.substring(0, token.length() - 1))).isEmpty();
        assertThat(s.authenticate("qt_ffffffffffff_" + token.substring(token.indexOf('_', 3) + 1))).isEmpty();
        assertThat(s.authenticate("")).isEmpty();
        assertThat(s.authenticate("qt_")).isEmpty();
        assertThat(s.authenticate(null)).isEmpty();
        assertThat(s.authenticate("Bearer x")).isEmpty();
    }

    @Test
    void revokedTokensStopWorkingAndOnlyTheOwnerMayRevoke() throws Exception {
        TenantStore s = new TenantStore(dir);
        Tenant a = s.createTenant("a");
        Tenant b = s.createTenant("b");
        String token = s.issue(a.id());
        String id = s.authenticate(token).orElseThrow().tokenId();
        assertThat(s.revoke(id, b.id())).isFalse();
        assertThat(s.authenticate(token)).isPresent();
        assertThat(s.revoke(id, a.id())).isTrue();
        assertThat(s.authenticate(token)).isEmpty();
    }

    @Test
    void tenantNamesAreUnique() throws Exception {
        TenantStore s = new TenantStore(dir);
        s.createTenant("a");
        assertThatThrownBy(() -> s.createTenant("a")).hasMessageContaining("already exists");
    }
}
