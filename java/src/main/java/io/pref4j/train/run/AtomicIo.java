package io.pref4j.train.run;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/** Durable file operations: fsynced writes, atomic replacement, recursive deletion. */
final class AtomicIo {
    private AtomicIo() {
    }

    /** Writes {@code bytes} to {@code file} (created or truncated) and fsyncs it. */
    static void writeSynced(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
            ch.force(true);
        }
    }

    /**
     * Replaces {@code file} atomically: a temporary file in the same folder, fsynced, then
     * renamed over the target; the folder is fsynced after.
     */
    static void replace(Path file, byte[] bytes) throws IOException {
        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        Path tmp = tempBeside(abs);
        try {
            writeSynced(tmp, bytes);
            move(tmp, abs);
            tmp = null;
            fsyncDir(dir);
        } finally {
            if (tmp != null) Files.deleteIfExists(tmp);
        }
    }

    /**
     * A fresh name beside {@code file} for a temporary file ({@code .NAME.NONCE.tmp}); unlike
     * {@link Files#createTempFile} the file gets the usual permissions when created.
     */
    static Path tempBeside(Path file) {
        return file.resolveSibling("." + file.getFileName() + "." + Long.toHexString(NONCE.incrementAndGet()) + ".tmp");
    }

    private static final java.util.concurrent.atomic.AtomicLong NONCE =
            new java.util.concurrent.atomic.AtomicLong(System.nanoTime() ^ ProcessHandle.current().pid() << 32);

    /** Atomic rename (replacing the target when it is a file). */
    static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** fsync of a file's contents. */
    static void fsync(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** fsync of a folder (its entries), where the platform allows it. */
    static void fsyncDir(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // not every platform can fsync a directory
        }
    }

    /** Deletes a folder and everything in it; a missing folder is fine. */
    static void deleteTree(Path p) throws IOException {
        if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                for (Path c : ds) deleteTree(c);
            } catch (NoSuchFileException ignored) {
                return;
            }
        }
        Files.deleteIfExists(p);
    }

    /** CRC-32C of a file's bytes as 8 hex digits. */
    static String crc32c(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        byte[] buf = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            int n;
            while ((n = in.read(buf)) > 0) crc.update(buf, 0, n);
        }
        return String.format("%08x", crc.getValue());
    }
}
