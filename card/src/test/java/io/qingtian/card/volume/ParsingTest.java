package io.qingtian.card.volume;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.qingtian.card.nbd.NbdTarget;
import io.qingtian.sys.UserError;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import net.jqwik.api.constraints.StringLength;
import org.junit.jupiter.api.Test;

class ParsingTest {
    @Test
    void sizesInUserNotation() {
        assertThat(Sizes.parse("1048576")).isEqualTo(1 << 20);
        assertThat(Sizes.parse("512K")).isEqualTo(512 << 10);
        assertThat(Sizes.parse("64M")).isEqualTo(64 << 20);
        assertThat(Sizes.parse("10G")).isEqualTo(10L << 30);
        assertThat(Sizes.parse("1TiB")).isEqualTo(1L << 40);
        assertThat(Sizes.parse("2gb")).isEqualTo(2L << 30);
        for (String bad : new String[] {"", "-1", "1.5G", "G", "12X", "0", "1000", "99999999999999999999", "2000P"}) {
            assertThatThrownBy(() -> Sizes.parse(bad)).as(bad).isInstanceOf(UserError.class);
        }
        assertThat(Sizes.human(64L << 20)).isEqualTo("64M");
        assertThat(Sizes.human(1536)).isEqualTo("1536B");
    }

    @Property
    void everyPositiveSectorMultipleRoundTripsThroughHuman(@ForAll @LongRange(min = 1, max = 1L << 40) long sectors) {
        long bytes = sectors * 512;
        assertThat(Sizes.parse(Sizes.human(bytes))).isEqualTo(bytes);
    }

    @Property
    void volumeNamesNeverEscapeTheVolumesDirectory(@ForAll @StringLength(max = 80) String name) {
        try {
            String ok = Names.check(name);
            assertThat(ok).doesNotContain("/").doesNotContain("\0").isNotIn(".", "..");
            assertThat(Character.isLetterOrDigit(ok.charAt(0))).isTrue();
        } catch (UserError e) {
            assertThat(e.getMessage()).startsWith("bad volume name");
        }
    }

    @Test
    void namesThatArePathsAreRefused() {
        for (String bad : new String[] {"..", ".", "../x", "a/b", "/etc", "", ".hidden", "x.tmp", "a".repeat(65), "a b"}) {
            assertThatThrownBy(() -> Names.check(bad)).as(bad).isInstanceOf(UserError.class);
        }
        assertThat(Names.check("db-01.data_2")).isEqualTo("db-01.data_2");
    }

    @Test
    void nbdTargets() {
        assertThat(NbdTarget.parse("127.0.0.1:10809/disk1")).isEqualTo(new NbdTarget("127.0.0.1", 10809, "disk1"));
        assertThat(NbdTarget.parse("[::1]:10809/a/b")).isEqualTo(new NbdTarget("::1", 10809, "a/b"));
        assertThat(NbdTarget.parse("[::1]:10809/a").toString()).isEqualTo("[::1]:10809/a");
        for (String bad : new String[] {"host/exp", "host:0/e", "host:70000/e", "host:10809", "host:10809/", ":1/e"}) {
            assertThatThrownBy(() -> NbdTarget.parse(bad)).as(bad).isInstanceOf(UserError.class);
        }
    }
}
