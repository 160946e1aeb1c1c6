package io.qingtian.card.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ValidateTest {
    @TempDir
    Path images;

    @Test
    void imagesMustStayInsideTheImageDirectory() throws Exception {
        Files.writeString(images.resolve("k"), "x");
        Files.createDirectories(images.resolve("sub"));
        Files.writeString(images.resolve("sub/k2"), "x");
        assertThat(Validate.image("kernel", images, "k")).isEqualTo(images.resolve("k"));
        assertThat(Validate.image("kernel", images, "sub/k2")).isEqualTo(images.resolve("sub/k2"));
        for (String bad : new String[] {"/etc/passwd", "../k", "sub/../../k", "sub/../k", "k\n", "", "sub"}) {
            assertThatThrownBy(() -> Validate.image("kernel", images, bad)).as(bad).isInstanceOf(ApiException.class)
                    .satisfies(e -> assertThat(((ApiException) e).status()).isEqualTo(400));
        }
    }

    @Test
    void namesAreShortAndPlain() {
        assertThat(Validate.name("name", "web-1_a")).isEqualTo("web-1_a");
        for (String bad : new String[] {"", "-a", "a.b", "a/b", "x".repeat(41), "a b"}) {
            assertThatThrownBy(() -> Validate.name("name", bad)).as(bad).isInstanceOf(ApiException.class);
        }
        assertThatThrownBy(() -> Validate.name("name", null)).hasMessage("name is required");
    }
}
