package io.qingtian.card.volume;

import io.qingtian.card.fs.Durable;
import io.qingtian.card.fs.Json;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * The {@code volumes/} directory: {@code NAME.json} (metadata, replaced atomically) and
 * {@code NAME.img} (raw sparse data of a local volume). The metadata file is the source of
 * truth: a volume exists iff its metadata does.
 */
public final class VolumeStore {
    private static final Logger LOG = Logger.getLogger(VolumeStore.class.getName());
    private final Path dir;

    public VolumeStore(Path dir) throws IOException {
        this.dir = dir;
        Files.createDirectories(dir);
    }

    public Path image(String name) {
        return dir.resolve(Names.check(name) + ".img");
    }

    private Path meta(String name) {
        return dir.resolve(Names.check(name) + ".json");
    }

    public boolean exists(String name) {
        return Files.exists(meta(name));
    }

    public VolumeMeta load(String name) throws IOException {
        VolumeMeta m = Json.MAPPER.readValue(meta(name).toFile(), VolumeMeta.class);
        if (m.format() != VolumeMeta.FORMAT || !name.equals(m.name())) {
            throw new IOException("volume metadata " + meta(name) + " is not format " + VolumeMeta.FORMAT + " for " + name);
        }
        return m;
    }

    public List<VolumeMeta> loadAll() throws IOException {
        List<VolumeMeta> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, "*.json")) {
            for (Path p : ds) {
                String file = p.getFileName().toString();
                String name = file.substring(0, file.length() - ".json".length());
                try {
                    out.add(load(name));
                } catch (IOException | RuntimeException e) {
                    // One damaged file must not take the other volumes down with it.
                    LOG.warning("skipping volume metadata " + p + ": " + e.getMessage());
                }
            }
        }
        out.sort((a, b) -> a.name().compareTo(b.name()));
        return out;
    }

    public void save(VolumeMeta m) throws IOException {
        Durable.writeAtomically(meta(m.name()), Json.MAPPER.writeValueAsBytes(m));
    }

    /** Creates the sparse image file; it must not exist yet. */
    public void createImage(String name, long size) throws IOException {
        Path img = image(name);
        Files.deleteIfExists(img); // an orphan left by a crash between image and metadata
        try (RandomAccessFile f = new RandomAccessFile(img.toFile(), "rw")) {
            f.setLength(size);
            f.getFD().sync();
        }
        Durable.syncDirectory(dir);
    }

    public void resizeImage(String name, long size) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(image(name).toFile(), "rw")) {
            f.setLength(size);
            f.getFD().sync();
        }
    }

    /** Removes the metadata first: a crash in between leaves an orphan image, never a dangling volume. */
    public void delete(String name) throws IOException {
        Files.deleteIfExists(meta(name));
        Files.deleteIfExists(image(name));
        Durable.syncDirectory(dir);
    }
}
