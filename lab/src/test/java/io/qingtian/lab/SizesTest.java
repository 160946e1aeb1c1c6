package io.qingtian.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.sys.UserError;
import org.junit.jupiter.api.Test;

class SizesTest {
    @Test
    void parsesBinaryUnitsIntoMiB() {
        assertThat(Sizes.parseMiB("2048")).isEqualTo(2048);
        assertThat(Sizes.parseMiB("512M")).isEqualTo(512);
        assertThat(Sizes.parseMiB("512m")).isEqualTo(512);
        assertThat(Sizes.parseMiB("2G")).isEqualTo(2048);
        assertThat(Sizes.parseMiB("2GiB")).isEqualTo(2048);
        assertThat(Sizes.parseMiB("1536MB")).isEqualTo(1536);
        assertThat(Sizes.parseMiB("1048576K")).isEqualTo(1024);
        assertThat(Sizes.parseMiB(" 1T ")).isEqualTo(1024 * 1024);
    }

    @Test
    void badSizesAreUserErrorsQuotingTheInput() {
        for (String bad : new String[] {"", "G", "-1G", "2X", "1.5G", "2 G", "99999999999999999999", "GiB"}) {
            assertThatThrownBy(() -> Sizes.parseMiB(bad)).as(bad).isInstanceOf(UserError.class)
                    .hasMessageContaining("'" + bad + "'");
        }
        assertThatThrownBy(() -> Sizes.parseMiB("0")).isInstanceOf(UserError.class).hasMessageContaining("positive whole number of MiB");
        assertThatThrownBy(() -> Sizes.parseMiB("1000K")).isInstanceOf(UserError.class).hasMessageContaining("whole number of MiB");
        assertThatThrownBy(() -> Sizes.parseMiB("4096T")).isInstanceOf(UserError.class);
    }
}
