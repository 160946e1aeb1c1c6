package io.qingtian.lab;

import io.qingtian.sys.UserError;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The loadable modules ({@code *.ko}) of one kernel, and the order to {@code insmod} them in.
 *
 * <p>Dependencies come from each module's own {@code .modinfo} ELF section ({@code depends=}),
 * the same field {@code modinfo -F depends} prints, so no {@code modules.dep} is needed. Names
 * compare with '-' and '_' as equal, as the kernel does ({@code kvm-amd} is {@code kvm_amd}).
 */
public final class KernelModules {
    private final Path modulesDir;
    private final Map<String, Path> byName;

    private KernelModules(Path modulesDir, Map<String, Path> byName) {
        this.modulesDir = modulesDir;
        this.byName = byName;
    }

    /** Indexes every {@code *.ko} under {@code modulesDir/kernel}. */
    public static KernelModules index(Path modulesDir) {
        Map<String, Path> byName = new HashMap<>();
        try (Stream<Path> s = Files.walk(modulesDir.resolve("kernel"))) {
            s.filter(p -> p.getFileName().toString().endsWith(".ko"))
                    .forEach(p -> byName.put(canonical(p.getFileName().toString().replaceFirst("\\.ko$", "")), p));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list kernel modules in " + modulesDir, e);
        }
        return new KernelModules(modulesDir, byName);
    }

    /** The module file for {@code name}, if this kernel has it as a loadable module. */
    public Optional<Path> find(String name) {
        return Optional.ofNullable(byName.get(canonical(name)));
    }

    /** The {@code depends=} list of module {@code name}. */
    public List<String> dependsOf(String name) {
        Path ko = find(name).orElseThrow(() -> missing(name, null));
        try {
            return modinfoDepends(Files.readAllBytes(ko));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + ko, e);
        }
    }

    /**
     * The module files to load, in order, so that {@code names} and everything they depend on
     * are loaded with each dependency before its users and each module once.
     *
     * @throws UserError naming a module (and what needs it) that this kernel does not have
     */
    public List<Path> loadOrder(List<String> names) {
        return order(names, this::dependsOfChecked).stream().map(n -> byName.get(canonical(n))).toList();
    }

    private List<String> dependsOfChecked(String name) {
        if (find(name).isEmpty()) {
            throw missing(name, null);
        }
        List<String> deps = dependsOf(name);
        for (String d : deps) {
            if (find(d).isEmpty()) {
                throw missing(d, name);
            }
        }
        return deps;
    }

    private UserError missing(String name, String neededBy) {
        return new UserError("lab: the kernel has no module '" + name + "'"
                + (neededBy == null ? "" : " (needed by " + neededBy + ")") + " under " + modulesDir.resolve("kernel"));
    }

    /** Module path relative to the modules directory, e.g. {@code kernel/arch/x86/kvm/kvm.ko}. */
    public String relative(Path ko) {
        return modulesDir.relativize(ko).toString();
    }

    /**
     * Dependency order: a depth-first post-order over {@code roots}, deduplicated by canonical
     * name. A dependency cycle is an error (the kernel could not load such modules either).
     */
    static List<String> order(List<String> roots, Function<String, List<String>> depends) {
        LinkedHashSet<String> done = new LinkedHashSet<>();
        Set<String> visiting = new LinkedHashSet<>();
        for (String r : roots) {
            visit(canonical(r), depends, done, visiting);
        }
        return new ArrayList<>(done);
    }

    private static void visit(String name, Function<String, List<String>> depends, Set<String> done, Set<String> visiting) {
        if (done.contains(name)) {
            return;
        }
        if (!visiting.add(name)) {
            throw new UserError("lab: kernel module dependency cycle: " + String.join(" -> ", visiting) + " -> " + name);
        }
        for (String d : depends.apply(name)) {
            visit(canonical(d), depends, done, visiting);
        }
        visiting.remove(name);
        done.add(name);
    }

    static String canonical(String name) {
        return name.replace('-', '_');
    }

    /**
     * The {@code depends=} entry of an ELF64 module's {@code .modinfo} section: NUL-separated
     * {@code key=value} strings (include/linux/moduleparam.h, MODULE_INFO). Empty list if the
     * module depends on nothing.
     */
    static List<String> modinfoDepends(byte[] elf) {
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        if (elf.length < 64 || b.getInt(0) != 0x464c457f || elf[4] != 2 || elf[5] != 1) {
            throw new IllegalArgumentException("not a little-endian ELF64 kernel module");
        }
        long shoff = b.getLong(0x28);
        int shentsize = Short.toUnsignedInt(b.getShort(0x3A));
        int shnum = Short.toUnsignedInt(b.getShort(0x3C));
        int shstrndx = Short.toUnsignedInt(b.getShort(0x3E));
        if (shentsize < 64 || shstrndx >= shnum || shoff < 0 || shoff + (long) shnum * shentsize > elf.length) {
            throw new IllegalArgumentException("corrupt ELF section header table");
        }
        long strOff = b.getLong((int) (shoff + (long) shstrndx * shentsize + 0x18));
        for (int i = 0; i < shnum; i++) {
            int sh = (int) (shoff + (long) i * shentsize);
            String name = cString(elf, strOff + Integer.toUnsignedLong(b.getInt(sh)));
            if (name.equals(".modinfo")) {
                long off = b.getLong(sh + 0x18);
                long size = b.getLong(sh + 0x20);
                if (off < 0 || size < 0 || off + size > elf.length) {
                    throw new IllegalArgumentException("corrupt .modinfo section");
                }
                String info = new String(elf, (int) off, (int) size, StandardCharsets.UTF_8);
                for (String kv : info.split("\0")) {
                    if (kv.startsWith("depends=")) {
                        String v = kv.substring("depends=".length()).strip();
                        return v.isEmpty() ? List.of() : List.of(v.split(","));
                    }
                }
                return List.of();
            }
        }
        throw new IllegalArgumentException("ELF file has no .modinfo section (not a kernel module)");
    }

    private static String cString(byte[] b, long off) {
        if (off < 0 || off >= b.length) {
            throw new IllegalArgumentException("corrupt ELF string table offset");
        }
        int end = (int) off;
        while (end < b.length && b[end] != 0) {
            end++;
        }
        return new String(b, (int) off, end - (int) off, StandardCharsets.US_ASCII);
    }
}
